#!/usr/bin/env node
/**
 * `praxa` — the operator's command line (`pnpm praxa <command>`). Config is loaded here, per command, never at import.
 */
import { createWriteStream, readFileSync } from "node:fs";
import { once } from "node:events";
import { Command, Option } from "commander";
import { describeError, EXIT, EXIT_CODES_HELP, progressOnStderr } from "./cli-support.js";
import { migrateDatabase } from "./commands/migrate.js";
import { seedDemoWorkspace } from "./commands/seed.js";
import { runApp, STARTABLE_APPS, type StartableApp } from "./commands/start.js";
import { createHumanToken, listTokens, revokeToken, setTokenMaxLifetime } from "./commands/tokens.js";
import { requestKeyRotation } from "./commands/keys.js";
import { replayAuditEvent } from "./commands/audit-replay.js";
import { consoleSignInLink } from "./commands/console-login.js";
import { applySkill, changeSkillStatus } from "./commands/skills.js";
import { decideApproval, linkSlack, listApprovals } from "./commands/approvals.js";
import { cancelRuns, listRuns, retryRuns, type RunFilterOptions } from "./commands/runs.js";
import {
  changeSiemSubscription,
  createSiemSubscription,
  deleteSiemSubscription,
  listSiemSubscriptions,
  rotateSiemSubscription,
  testSiemSubscription,
  type SiemCreateOptions,
} from "./commands/siem.js";
import { setFleet, setFleetWorkspaceCap } from "./commands/fleet.js";
import {
  checkpointWorkspace,
  exportWorkspaceAudit,
  printAuditKeys,
  proveEvent,
  verifyExportFile,
  verifyStreamFile,
  verifyProofFile,
  verifyWorkspaceAudit,
} from "./commands/audit.js";
import { describeRetention, ValidationError } from "@praxa/core";
import {
  eraseWorkspace,
  exportWorkspace,
  printErasureReceipt,
  redactPersonInWorkspace,
  verifyErasureReceiptFile,
} from "./commands/workspace.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** "; seq 4, 9 redacted (content removed; hash, links and signature verified)" */
function describeRedacted(seqs: readonly number[] | undefined): string {
  if (!seqs || seqs.length === 0) return "";
  const shown = seqs.length > 20 ? `${seqs.slice(0, 20).join(", ")}… (${seqs.length})` : seqs.join(", ");
  return `; seq ${shown} redacted (content removed; hash, links and signature verified)`;
}

/** `--json` of the command being run (set before its action): one JSON document on stdout, nothing else there. */
let jsonOutput = false;
const jsonOption = () => new Option("--json", "print one JSON document on stdout (nothing else there)");
/** Print `doc` as JSON under --json, otherwise the human form. */
function report(doc: unknown, human: () => void): void {
  if (jsonOutput) console.log(JSON.stringify(doc));
  else human();
}

const program = new Command()
  .name("praxa")
  .description("Praxa: autonomous Skills in your GitHub and Slack, constrained by code and by the database.")
  .version(version, "-V, --version", "print the version")
  .showHelpAfterError()
  .exitOverride()
  .addHelpText("after", EXIT_CODES_HELP)
  .hook("preAction", (_program, action) => {
    jsonOutput = action.opts<{ json?: boolean }>().json === true;
  });

program
  .command("migrate")
  .description("create the roles (idempotent) and apply pending SQL migrations to DATABASE_URL")
  .addOption(jsonOption())
  .action(async () => {
    const out = await migrateDatabase(process.env);
    report(out, () => {
      if (out.databaseCreated) console.log("created database");
      console.log(
        out.applied.length === 0 ? "migrations: up to date" : `migrations applied: ${out.applied.join(", ")}`,
      );
    });
  });

program
  .command("seed")
  .description("provision a demo tenant, workspace, GitHub integration and Skill (prints their ids, as JSON)")
  .addOption(jsonOption())
  .action(async () => {
    const seeded = await seedDemoWorkspace(process.env);
    report(seeded, () => console.log(JSON.stringify(seeded, null, 2)));
  });

program
  .command("start")
  .description(`run one app in the foreground (${STARTABLE_APPS.join(", ")})`)
  .argument("<app>", "the app to run")
  .action(async (app: string) => {
    if (!(STARTABLE_APPS as readonly string[]).includes(app)) {
      throw new ValidationError(`unknown app "${app}"; one of: ${STARTABLE_APPS.join(", ")}`);
    }
    process.exitCode = await runApp(app as StartableApp, [], process.env);
  });

program
  .command("reconcile")
  .description("one pass of the run reconciler: enqueue runs whose jobs were lost, hand back expired leases")
  .action(async () => {
    process.exitCode = await runApp("monitor", ["--reconcile-once"], process.env);
  });

const audit = program.command("audit").description("the audit log: verify, checkpoint, keys");
audit
  .command("verify")
  .description(
    "verify chain, signatures and checkpoints — of a workspace in the database, or of an export file offline; exit 0 if everything holds",
  )
  .option("--workspace <id>", "the workspace (ws_…), read from the database")
  .option("--file <export.jsonl>", "an export (pnpm praxa audit export), verified offline with no database")
  .option("--keys <keys.json>", "with --file: the key set you pinned (pnpm praxa audit keys)")
  .option(
    "--trusted-checkpoint <file>",
    "a checkpoint line you kept earlier (from an export); proves the log only grew since",
  )
  .option("--full", "also every event’s Ed25519 signature, canonical form and schema (slower; uses every core)")
  .option("--threads <n>", "with --full: how many threads verify the chain (default: every core, for long chains)")
  .option("--proof <file>", "an inclusion proof (pnpm praxa audit prove), verified offline with --keys")
  .option(
    "--stream <received.jsonl>",
    "what a SIEM receiver stored (jsonl bodies, Splunk HEC envelopes or Datadog entries), verified offline with --keys",
  )
  .addOption(jsonOption())
  .addHelpText(
    "after",
    '\nExit 0 if everything holds, 1 if a verification failed (the first bad seq is named), 2 on a usage error, 3 if the database is unreachable.\n--json: {"ok","events","checkpoints","threads","failure"?,"seq"?} ({"ok","seq","treeSize"} or {"ok","failure"} with --proof).',
  )
  .action(
    async (o: {
      workspace?: string;
      file?: string;
      keys?: string;
      trustedCheckpoint?: string;
      full?: boolean;
      threads?: string;
      proof?: string;
      stream?: string;
    }) => {
      const threads = o.threads === undefined ? undefined : Number(o.threads);
      if (threads !== undefined && (!Number.isSafeInteger(threads) || threads < 1 || threads > 256))
        throw new ValidationError("--threads takes a whole number from 1 to 256");
      const how = {
        full: o.full === true,
        ...(o.trustedCheckpoint ? { trustedFile: o.trustedCheckpoint } : {}),
        ...(threads === undefined ? {} : { threads }),
      };
      const onThreads = (n: number): string => (n > 1 ? ` (chain verified on ${n} threads)` : "");
      if (o.proof) {
        if (!o.keys) throw new ValidationError("--proof needs --keys (the key set you pinned)");
        const r = verifyProofFile(o.proof, o.keys);
        report(r, () =>
          r.ok
            ? console.log(`ok: event seq ${r.seq} is in the log checkpointed at tree_size ${r.treeSize}`)
            : console.error(`FAILED: ${r.failure}`),
        );
        process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
        return;
      }
      if (o.stream) {
        if (!o.keys) throw new ValidationError("--stream needs --keys (GET /v1/audit/keys, or pnpm praxa audit keys)");
        const r = verifyStreamFile(o.stream, o.keys);
        report(r, () =>
          r.ok
            ? console.log(
                `ok: ${r.events} event(s), seq ${r.firstSeq}…${r.lastSeq}${r.firstSeq > 1 ? ` (anchored on seq ${r.firstSeq}'s prev_hash)` : ""}, every signature and link holds; ${r.duplicates} duplicate(s) dropped`,
              )
            : console.error(`FAILED: ${r.failure}`),
        );
        process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
        return;
      }
      if (o.file) {
        if (!o.keys) throw new ValidationError("--file needs --keys (the key set you pinned)");
        const r = await verifyExportFile(o.file, o.keys, how);
        report(r, () =>
          r.ok
            ? console.log(
                `ok: ${r.events} event(s), ${r.leaves} leaf hash(es), ${r.checkpoints} checkpoint(s) hold; trusted checkpoint: ${r.trustedCheckpoint}${r.retention ? `; ${describeRetention(r.retention)}` : ""}${describeRedacted(r.redacted)}${onThreads(r.threads)}`,
              )
            : console.error(`FAILED: ${r.failure}${onThreads(r.threads)}`),
        );
        process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
        return;
      }
      if (!o.workspace) throw new ValidationError("give --workspace <id>, or --file <export> --keys <keys.json>");
      const progress = o.full ? progressOnStderr("verified events") : undefined;
      const r = await verifyWorkspaceAudit(process.env, o.workspace, {
        ...how,
        ...(progress ? { onProgress: progress } : {}),
      });
      report(r, () =>
        r.ok
          ? console.log(
              `ok: ${r.events} event(s) and ${r.checkpoints} checkpoint(s) hold (hashes, links, checkpoint signatures and roots, ${o.full ? "every event signature" : "the signatures of the head and of every event past the newest checkpoint"})${r.retention ? `; ${describeRetention(r.retention)}` : ""}${describeRedacted(r.redacted)}${onThreads(r.threads)}`,
            )
          : console.error(
              `FAILED: ${r.failure} (${r.events} event(s), ${r.checkpoints} checkpoint(s) read)${onThreads(r.threads)}`,
            ),
      );
      process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
    },
  );
audit
  .command("prove")
  .description("print a compact RFC 9162 inclusion proof of one event against the newest checkpoint covering it")
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .requiredOption("--event <id>", "the audit event (ae_…)")
  .addOption(jsonOption())
  .action(async (o: { workspace: string; event: string }) => {
    // The proof is a JSON document either way (--json is accepted for uniformity).
    console.log(await proveEvent(process.env, o.workspace, o.event));
  });
audit
  .command("replay")
  .description(
    "replay a decision (any Skill): a worker re-fetches its inputs as the bot, checks each against its recorded hash and re-runs the decision on the offline model; exit 0 if all hold",
  )
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .requiredOption("--event <id>", "the skill.action audit event (ae_…)")
  .option("--timeout <seconds>", "how long to wait for a worker to store the report", "120")
  .addOption(jsonOption())
  .action(async (o: { workspace: string; event: string; timeout: string }) => {
    const r = await replayAuditEvent(process.env, o.workspace, o.event, { timeoutSeconds: Number(o.timeout) });
    report(r, () => {
      for (const line of r.lines) console.log(line);
      console.log(
        r.ok
          ? "replay: the decision reproduces from inputs that match their recorded hashes"
          : "replay: FAILED — see the lines above",
      );
    });
    process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
  });
audit
  .command("export")
  .description(
    "write a workspace’s audit events (canonical bytes), leaf hashes, checkpoints and public keys as JSON Lines to stdout",
  )
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .option("--from <time>", "ISO-8601: events that occurred at or after")
  .option("--to <time>", "ISO-8601: events that occurred before")
  .option("--output <file>", "write the export to this file instead of stdout")
  .addOption(new Option("--json", "with --output: print a summary of the export as one JSON document on stdout"))
  .action(async (o: { workspace: string; from?: string; to?: string; output?: string; json?: boolean }) => {
    if (o.json && !o.output)
      throw new ValidationError("--json prints a summary on stdout: give --output <file> for the export itself");
    const file = o.output ? createWriteStream(o.output, { mode: 0o600 }) : null;
    const write = (line: string): void => {
      if (file) file.write(line + "\n");
      else process.stdout.write(line + "\n");
    };
    const range = { ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) };
    const summary = await exportWorkspaceAudit(
      process.env,
      o.workspace,
      range,
      write,
      progressOnStderr("exported events"),
    );
    if (file) {
      file.end();
      await once(file, "close");
    }
    report({ ...summary, output: o.output ?? null }, () => console.error(`exported ${summary.events} event(s)`));
  });
audit
  .command("checkpoint")
  .description("sign a checkpoint over a workspace’s chain now")
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .addOption(jsonOption())
  .action(async (o: { workspace: string }) => {
    const cp = await checkpointWorkspace(process.env, o.workspace);
    report({ checkpoint: cp }, () =>
      console.log(
        cp ? JSON.stringify(cp) : "nothing to checkpoint: no events yet, or none since the latest checkpoint",
      ),
    );
  });
audit
  .command("keys")
  .description(
    "print the public key set (event and checkpoint keys, by key_id) to pin for offline verification (a JSON array)",
  )
  .addOption(jsonOption())
  .action(async () => {
    // The key set is a JSON document either way (--json is accepted for uniformity).
    console.log(await printAuditKeys(process.env));
  });

const keysCmd = program.command("keys").description("workspace keys");
keysCmd
  .command("rotate")
  .description("enqueue a keys job: a worker creates a new workspace key pair (the old one is retired, still opens)")
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .addOption(jsonOption())
  .action(async (o: { workspace: string }) => {
    const jobId = await requestKeyRotation(process.env, o.workspace);
    report({ workspaceId: o.workspace, jobId }, () =>
      console.log(`keys job enqueued: ${jobId} (a running worker performs it: pnpm praxa start worker)`),
    );
  });

const consoleCmd = program.command("console").description("the web console");
consoleCmd
  .command("login")
  .description(
    "print a single-use sign-in link to the console for a member (10 minutes; never in production — use your IdP there)",
  )
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .requiredOption("--member <id>", "the member who signs in (mb_…)")
  .option("--api-url <url>", "where the browser reaches the api (default: API_PUBLIC_URL)")
  .action(async (o: { workspace: string; member: string; apiUrl?: string }) => {
    const link = await consoleSignInLink(process.env, o);
    console.log(link.url);
    console.error(`single use; expires ${link.expiresAt.toISOString()}`);
  });
const tokens = program.command("tokens").description("api tokens");
tokens
  .command("create")
  .description("mint a human api token for a workspace member (printed once; only its hash is stored)")
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .requiredOption("--member <id>", "the member the token acts as (mb_…)")
  .option("--kind <kind>", "human (automation tokens come from POST /v1/tokens)", "human")
  .option("--name <name>", "a label", "cli")
  .option(
    "--ttl-days <days>",
    "lifetime in days, within the maximum (pnpm praxa tokens max-lifetime; default 365)",
    "30",
  )
  .addOption(jsonOption())
  .action(
    async (o: { workspace: string; member: string; kind: string; name: string; ttlDays: string; json?: boolean }) => {
      const t = await createHumanToken(process.env, {
        workspace: o.workspace,
        member: o.member,
        kind: o.kind,
        name: o.name,
        ttlDays: Number(o.ttlDays),
      });
      if (o.json)
        return console.log(
          JSON.stringify({
            id: t.tokenId,
            token: t.token,
            kind: "human",
            expiresAt: t.expiresAt.toISOString(),
            auditSeq: t.auditSeq,
          }),
        );
      console.log(t.token);
      console.error(
        `token ${t.tokenId} (human) expires ${t.expiresAt.toISOString()} — shown once; store it now (audited: admin.token.minted at seq ${t.auditSeq})`,
      );
    },
  );
tokens
  .command("list")
  .description(
    "list a workspace’s api tokens: id, name, kind, member, role, created, expires, minted by, revoked — never a secret",
  )
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .addOption(jsonOption())
  .action(async (o: { workspace: string; json?: boolean }) => {
    const list = await listTokens(process.env, o.workspace);
    if (o.json) return console.log(JSON.stringify({ tokens: list }, null, 2));
    if (list.length === 0) return console.log("no tokens");
    for (const t of list)
      console.log(
        `${t.id}  ${t.status.padEnd(7)}  ${t.kind.padEnd(10)}  ${t.role.padEnd(6)}  ${t.memberId}  expires ${t.expiresAt}${t.mintedBy ? `  minted by ${t.mintedBy}` : ""}${t.revokedAt ? `  revoked ${t.revokedAt}` : ""}  ${JSON.stringify(t.name)}`,
      );
  });
tokens
  .command("revoke")
  .description("revoke an api token and every token it minted (audited: admin.token.revoked per token)")
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .argument("<tokenId>", "the token (tk_…)")
  .addOption(jsonOption())
  .action(async (tokenId: string, o: { workspace: string; json?: boolean }) => {
    const r = await revokeToken(process.env, o.workspace, tokenId);
    if (o.json) return console.log(JSON.stringify({ id: tokenId, ...r }, null, 2));
    console.log(
      r.revoked.length === 0
        ? `${tokenId}: already revoked; nothing changed`
        : `revoked ${r.revoked.join(", ")} (audited at seq ${r.auditSeqs.join(", ")})`,
    );
  });
tokens
  .command("max-lifetime")
  .description(
    "set the maximum lifetime of new tokens of a kind (default: automation 90 days, human 365); the database enforces it",
  )
  .requiredOption("--kind <kind>", "automation or human")
  .requiredOption("--days <days>", "1..366")
  .addOption(jsonOption())
  .action(async (o: { kind: string; days: string; json?: boolean }) => {
    await setTokenMaxLifetime(process.env, o.kind, Number(o.days));
    console.log(
      o.json
        ? JSON.stringify({ kind: o.kind, maxDays: Number(o.days) })
        : `${o.kind} tokens now live at most ${Number(o.days)} days (tokens minted before keep their expiry)`,
    );
  });

const skills = program
  .command("skills")
  .description(
    "a workspace's Skills: apply a document, pause, resume (through the api, with your own token: PRAXA_API_TOKEN)",
  );
skills
  .command("apply")
  .description(
    "publish a Skill document (YAML or JSON; docs/skills.md): a new Skill, or a new immutable version of the Skill with its slug; --dry-run validates only",
  )
  .requiredOption("-f, --file <path>", "the Skill document")
  .option("--dry-run", "validate (the api's checks, the workspace's integrations included) and publish nothing")
  .addOption(jsonOption())
  .action(async (o: { file: string; dryRun?: boolean }) => {
    const r = await applySkill(process.env, readFileSync(o.file, "utf8"), o.dryRun === true);
    report(r, () => {
      if (!r.valid) {
        console.log(`${o.file}: not valid`);
        for (const i of r.issues) console.log(`  ${i.path}: ${i.message}`);
        return;
      }
      if (r.dryRun) console.log(`${o.file}: valid (manifest ${r.manifestHash?.slice(0, 12)}…); nothing published`);
      else if (r.version?.created)
        console.log(
          `${r.skill?.slug} (${r.skill?.id}): version ${r.version.version} published (manifest ${r.manifestHash?.slice(0, 12)}…; audited)`,
        );
      else
        console.log(
          `${r.skill?.slug} (${r.skill?.id}): unchanged — version ${r.version?.version} already has this manifest`,
        );
      if (r.next) console.log(`next: ${r.next}`);
    });
    if (!r.valid) process.exitCode = 2;
  });
for (const action of ["resume", "pause"] as const) {
  skills
    .command(action)
    .description(
      action === "resume"
        ? "resume a paused Skill — only a human owner or admin may, with a reason; audited"
        : "pause a Skill by hand (an owner or admin), with a reason; audited",
    )
    .argument("<skill>", "the Skill (sk_…)")
    .requiredOption("--reason <text>", "why (kept in the audit log)")
    .addOption(jsonOption())
    .action(async (skill: string, o: { reason: string }) => {
      const r = await changeSkillStatus(process.env, { action, skill, reason: o.reason });
      const changed = action === "resume" ? r.resumed === true : r.paused === true;
      report(r, () =>
        console.log(
          changed
            ? `${skill}: ${String(r.status)} (audited)`
            : `${skill}: already ${String(r.status)}; nothing changed`,
        ),
      );
    });
}

const siem = program
  .command("siem")
  .description(
    "SIEM streams of the audit log: list, create, pause, resume, test, rotate, delete (through the api: PRAXA_API_TOKEN)",
  );
const describeSub = (s: {
  id: string;
  status: string;
  format: string;
  endpointUrl: string;
  cursorSeq: number;
  publicKey: string;
  statusReason: string | null;
  lastErrorCode: string | null;
}) =>
  [
    s.id,
    s.status.padEnd(8),
    s.format.padEnd(10),
    s.endpointUrl,
    `cursor ${s.cursorSeq}`,
    s.publicKey,
    s.statusReason ?? "",
    s.lastErrorCode ? `last error ${s.lastErrorCode}` : "",
  ]
    .filter((c) => c !== "")
    .join("  ");
siem
  .command("list")
  .description("the workspace's SIEM subscriptions: status, cursor (last acknowledged seq), public key, last error")
  .addOption(jsonOption())
  .action(async () => {
    const r = await listSiemSubscriptions(process.env);
    report(r, () => {
      if (r.subscriptions.length === 0) console.log("no SIEM subscriptions");
      for (const s of r.subscriptions) console.log(describeSub(s));
    });
  });
siem
  .command("create")
  .description("stream the audit log to an endpoint; the endpoint must answer the signed challenge (docs/siem.md)")
  .requiredOption("--url <https://…>", "the endpoint")
  .option("--format <format>", "jsonl (default), splunk-hec or datadog")
  .option("--token <token>", "splunk-hec: the HEC token")
  .option("--api-key <key>", "datadog: the API key")
  .option("--hmac", "also sign with v1 (HMAC-SHA256); the whsec_ secret is printed once")
  .option("--start-at <when>", "beginning (default: every retained event) or now")
  .option("--batch-max-events <n>", "events per request, 1..1000 (default 1000)")
  .option("--batch-max-bytes <n>", "bytes per request, 4096..1048576 (default 1 MiB)")
  .addOption(jsonOption())
  .action(async (o: SiemCreateOptions) => {
    const r = await createSiemSubscription(process.env, o);
    report(r, () => {
      console.log(describeSub(r));
      console.log(`v1a public key (pin it at the receiver): ${r.publicKey}`);
      if (r.signingSecret) console.log(`v1 secret (shown once): ${r.signingSecret}`);
    });
  });
for (const verb of ["pause", "resume"] as const)
  siem
    .command(verb)
    .description(verb === "pause" ? "pause a stream (its cursor is kept)" : "resume a stream from its cursor")
    .argument("<subscription>", "ss_…")
    .addOption(jsonOption())
    .action(async (id: string) => {
      const r = await changeSiemSubscription(process.env, verb, id);
      report(r, () => console.log(describeSub(r)));
    });
siem
  .command("test")
  .description("ask the worker to send a signed test message; `siem list --json` shows lastTestResult")
  .argument("<subscription>", "ss_…")
  .addOption(jsonOption())
  .action(async (id: string) => {
    const r = await testSiemSubscription(process.env, id);
    report(r, () => console.log(`test requested at ${r.requestedAt}`));
  });
siem
  .command("rotate")
  .description("new signing keys; both generations sign during the overlap")
  .argument("<subscription>", "ss_…")
  .option("--overlap-hours <n>", "1..168 (default 24)")
  .addOption(jsonOption())
  .action(async (id: string, o: { overlapHours?: string }) => {
    const r = await rotateSiemSubscription(process.env, id, o.overlapHours);
    report(r, () => {
      console.log(`new v1a public key: ${r.publicKey} (the previous one signs until ${r.previousUntil ?? "now"})`);
      if (r.signingSecret) console.log(`new v1 secret (shown once): ${r.signingSecret}`);
    });
  });
siem
  .command("delete")
  .description("delete a stream and its secrets")
  .argument("<subscription>", "ss_…")
  .addOption(jsonOption())
  .action(async (id: string) => {
    const r = await deleteSiemSubscription(process.env, id);
    report(r, () => console.log(`${id}: deleted`));
  });

const runs = program
  .command("runs")
  .description("runs: list, cancel, redrive (through the api, with your own token: PRAXA_API_TOKEN)");
runs
  .command("list")
  .description("one page of runs, newest first; --status failed lists the dead letters with their error codes")
  .option("--status <status>", "queued, running, waiting_approval, succeeded, failed, skipped, cancelled or denied")
  .option("--skill <id>", "the Skill (sk_…)")
  .option("--trigger <name>", "e.g. github.pull_request.opened")
  .option("--from <time>", "ISO-8601: created at or after")
  .option("--to <time>", "ISO-8601: created before")
  .option("--limit <n>", "runs per page, 1..200 (default 50)")
  .option("--cursor <next>", "the `next` of the previous page")
  .addOption(jsonOption())
  .action(async (o: RunFilterOptions & { cursor?: string }) => {
    const page = await listRuns(process.env, o);
    report(page, () => {
      if (page.runs.length === 0) console.log("no runs");
      for (const r of page.runs)
        console.log(
          [
            r.id,
            r.status.padEnd(9),
            r.skillId,
            r.trigger,
            `attempt ${r.attempt}`,
            r.errorCode ? `${r.errorCode}${r.failureClass ? ` (${r.failureClass})` : ""}` : "",
            r.retryOf ? `retry of ${r.retryOf}` : "",
            r.createdAt,
          ]
            .filter((c) => c !== "")
            .join("  "),
        );
      if (page.next) console.log(`more: --cursor ${page.next}`);
    });
  });
runs
  .command("cancel")
  .description(
    "cancel one run, or every queued/running run matching filters (at least one): queued runs at once, running runs at their next step; audited",
  )
  .argument("[run]", "the run (rn_…); or give filters instead")
  .option("--reason <text>", "why (kept in the audit log)")
  .option("--skill <id>", "filter: the Skill (sk_…)")
  .option("--status <list>", "filter: queued, running, waiting_approval, or a comma-separated list (default all three)")
  .option("--trigger <name>", "filter: the trigger")
  .option("--from <time>", "filter: ISO-8601, created at or after")
  .option("--to <time>", "filter: ISO-8601, created before")
  .option("--limit <n>", "with filters: at most this many runs, 1..10000 (default 1000)")
  .addOption(jsonOption())
  .addHelpText(
    "after",
    '\nExit 0 when done, 1 if the api refused (a finished run: RUN_FINISHED; not found; a viewer), 2 on a usage error.\n--json: {"run":{"id","outcome"}} for one run, {"cancelled","cancelling","matched","more"} with filters.',
  )
  .action(async (run: string | undefined, o: RunFilterOptions & { reason?: string }) => {
    const r = await cancelRuns(process.env, run, o);
    report(r, () => {
      if ("run" in r)
        console.log(
          r.run.outcome === "cancelled"
            ? `${r.run.id}: cancelled (audited)`
            : `${r.run.id}: cancelling — it stops at its next step boundary and finishes cancelled (audited)`,
        );
      else
        console.log(
          `matched ${r.matched}: ${r.cancelled} queued run(s) cancelled, ${r.cancelling} running run(s) stop at their next step (audited)${r.more ? "; more match: run it again" : ""}`,
        );
    });
  });
runs
  .command("retry")
  .description(
    "redrive one failed run, or the failed runs matching filters (at least one), as new runs linked to them; audited",
  )
  .argument("[run]", "the failed run (rn_…); or give filters instead")
  .option("--skill <id>", "filter: the Skill (sk_…)")
  .option("--error-code <code>", "filter: the error code, e.g. UNAVAILABLE")
  .option("--trigger <name>", "filter: the trigger")
  .option("--from <time>", "filter: ISO-8601, created at or after")
  .option("--to <time>", "filter: ISO-8601, created before")
  .option("--limit <n>", "with filters: at most this many runs, 1..1000 (default 100)")
  .addOption(jsonOption())
  .addHelpText(
    "after",
    '\nExit 0 when done, 1 if the api refused (RUN_NOT_FAILED, RUN_ALREADY_RETRIED, GUARD_DENIAL_NEEDS_NEW_VERSION, SKILL_PAUSED; not found; a viewer), 2 on a usage error.\n--json: {"run":{"id","retryOf"}} for one run, {"retried","refused":{"needs_new_version","skill_paused"},"matched","more"} with filters.',
  )
  .action(async (run: string | undefined, o: RunFilterOptions) => {
    const r = await retryRuns(process.env, run, o);
    report(r, () => {
      if ("run" in r) console.log(`${r.run.retryOf}: retried as ${r.run.id} (queued; audited)`);
      else
        console.log(
          `matched ${r.matched}: ${r.retried} retried; refused ${r.refused.needs_new_version} (a guard refused them: publish a new Skill version first), ${r.refused.skill_paused} (their Skill is paused)${r.more ? "; more match: run it again" : ""}`,
        );
    });
  });

const approvals = program
  .command("approvals")
  .description("approvals of gated tools: list, grant, deny (through the api, with your own human token)");
approvals
  .command("list")
  .description("approvals, newest first")
  .option("--status <status>", "pending, granted, denied or expired")
  .option("--limit <n>", "1..200 (default 50)")
  .addOption(jsonOption())
  .action(async (o: { status?: string; limit?: string }) => {
    const page = await listApprovals(process.env, o);
    report(page, () => {
      if (page.approvals.length === 0) console.log("no approvals");
      for (const a of page.approvals)
        console.log(
          [a.id, a.status.padEnd(8), a.runId, `step ${a.step}`, a.tool, `roles ${a.roles.join(",")}`, a.expiresAt].join(
            "  ",
          ),
        );
    });
  });
for (const verb of ["grant", "deny"] as const)
  approvals
    .command(verb)
    .description(
      verb === "grant"
        ? "approve: the run resumes and the tool acts (a human member with one of the approval's roles)"
        : "deny: the tool never acts and the run ends denied",
    )
    .argument("<approval>", "the approval (ap_…)")
    .option("--reason <text>", "why (kept with the decision)")
    .addOption(jsonOption())
    .addHelpText(
      "after",
      "\nExit 0 when decided, 1 if the api refused (403: not a human with an allowed role; 409: decided, expired or cancelled).",
    )
    .action(async (approval: string, o: { reason?: string }) => {
      const r = await decideApproval(process.env, verb, approval, o);
      report(r, () => console.log(`${r.approvalId}: ${r.status} by ${r.decidedBy}; run ${r.runId} resumes`));
    });

const members = program.command("members").description("workspace members");
members
  .command("link-slack")
  .description(
    "link a member to their Slack user, so their Approve / Deny clicks decide as them (a human owner or admin; audited)",
  )
  .argument("<member>", "the member (mb_…)")
  .argument("[slackUser]", "their Slack user id (U…)")
  .option("--unlink", "remove the link")
  .addOption(jsonOption())
  .action(async (member: string, slackUser: string | undefined, o: { unlink?: boolean }) => {
    const r = await linkSlack(process.env, member, slackUser, o);
    report(r, () =>
      console.log(r.slackUserId ? `${r.memberId}: linked to ${r.slackUserId}` : `${r.memberId}: unlinked`),
    );
  });

const workspace = program.command("workspace").description("a workspace's data lifecycle: erasure and its receipt");
workspace
  .command("erase")
  .description(
    "erase a workspace: every row, object (ws/<id>/), vault secret and key; the monitor executes it after a 72-hour grace period",
  )
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .option("--now", "skip the grace period and execute it here (local key provider), printing the signed receipt")
  .addOption(jsonOption())
  .action(async (o: { workspace: string; now?: boolean }) => {
    const r = await eraseWorkspace(process.env, o.workspace, { now: o.now === true });
    report(r, () =>
      r.status === "erased"
        ? console.log(`erased; receipt (erasure ${r.erasureId}):\n${JSON.stringify(r.receipt)}`)
        : console.log(`erasure ${r.erasureId} requested: the monitor executes it after the grace period`),
    );
  });
workspace
  .command("erasure-receipt")
  .description("print an erasure's signed receipt (--id), or verify one offline (--file with --keys)")
  .option("--id <uuid>", "the erasure id")
  .option("--file <receipt.json>", "a receipt to verify offline")
  .option("--keys <keys.json>", "with --file: the key set you pinned (pnpm praxa audit keys)")
  .option("--trusted-checkpoint <file>", "with --file: a checkpoint line you kept; the final root must extend it")
  .addOption(jsonOption())
  .action(async (o: { id?: string; file?: string; keys?: string; trustedCheckpoint?: string }) => {
    if (o.file) {
      if (!o.keys) throw new ValidationError("--file needs --keys (the key set you pinned)");
      const r = verifyErasureReceiptFile(o.file, o.keys, o.trustedCheckpoint);
      report(r, () =>
        r.ok
          ? console.log(
              `ok: workspace ${r.body.workspace_id} erased at ${r.body.completed_at} (requested ${r.body.requested_at}); signed by ${r.body.key_id}`,
            )
          : console.error(`FAILED: ${r.failure}`),
      );
      process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
      return;
    }
    if (!o.id) throw new ValidationError("give --id <erasure id>, or --file <receipt.json> --keys <keys.json>");
    console.log(JSON.stringify(await printErasureReceipt(process.env, o.id)));
  });

workspace
  .command("export")
  .description(
    "export a workspace (settings, members, Skills and versions, runs, feedback, and its audit log in the offline-verifiable form) to the object store",
  )
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .addOption(jsonOption())
  .action(async (o: { workspace: string }) => {
    const r = await exportWorkspace(process.env, o.workspace);
    report(r, () => console.log(`export ${r.exportId} written:\n${r.objects.join("\n")}`));
  });
workspace
  .command("redact-person")
  .description(
    "erase a person (a GitHub login or a Slack user id) from a workspace: audit events naming them redacted in place, memory facts deleted, run inputs emptied",
  )
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .requiredOption("--subject <login>", "the GitHub login or Slack user id")
  .addOption(jsonOption())
  .action(async (o: { workspace: string; subject: string }) => {
    const r = await redactPersonInWorkspace(process.env, o.workspace, o.subject);
    report(r, () =>
      console.log(
        `redacted ${r.redacted_seqs.length} audit event(s)${r.redacted_seqs.length ? ` (seq ${r.redacted_seqs.join(", ")})` : ""}; deleted ${r.memory_facts} memory fact(s); emptied ${r.run_inputs} run input(s)`,
      ),
    );
  });

const fleet = program
  .command("fleet")
  .description("fleet control: concurrency caps and dispatch look-ahead (as the operator: DATABASE_URL)");
fleet
  .command("set")
  .description("the fleet's default per-workspace cap and its dispatch look-ahead (either, or both)")
  .option("--default-cap <n>", "runs of one workspace running at once, fleet-wide, unless it has its own cap")
  .option("--ahead <n>", "dispatched runs waiting for a worker, fleet-wide (about twice the fleet's worker slots)")
  .addOption(jsonOption())
  .action(async (o: { defaultCap?: string; ahead?: string }) => {
    const r = await setFleet(process.env, o);
    report(r, () =>
      console.log(
        [
          r.defaultWorkspaceConcurrency === null ? "" : `default cap ${r.defaultWorkspaceConcurrency}`,
          r.dispatchAhead === null ? "" : `look-ahead ${r.dispatchAhead}`,
        ]
          .filter((p) => p !== "")
          .join(", ") + " (from the next dispatch and claim)",
      ),
    );
  });
fleet
  .command("cap")
  .description("one workspace's own concurrency cap (0 holds every run of it), or `default` for the fleet default")
  .requiredOption("--workspace <id>", "the workspace (ws_…)")
  .requiredOption("--cap <n|default>", "0..100000, or default")
  .addOption(jsonOption())
  .action(async (o: { workspace: string; cap: string }) => {
    const r = await setFleetWorkspaceCap(process.env, o);
    report(r, () =>
      console.log(
        r.cap === null
          ? `${r.workspaceId}: the fleet default cap`
          : `${r.workspaceId}: cap ${r.cap}${r.cap === 0 ? " (every run held)" : ""}`,
      ),
    );
  });

program
  .command("demo")
  .description(
    "the live demo on embedded defaults: ingest and a worker as real processes, a signed GitHub webhook over HTTP, the review on the sandbox GitHub, audit verify; Ctrl-C stops everything",
  )
  .option(
    "--keep",
    "keep ingest, the worker and the sandbox GitHub running after the demo; prints a signed curl for another PR and where to look (Ctrl-C stops them)",
  )
  .option(
    "--skill <name>",
    "instead, a workspace's own Skill end to end: deploy-triage (examples/skills/deploy-triage.yaml) published through the api, fed by a signed CI event",
  )
  // Loaded on use: the demo drives the testkit's sandbox GitHub, a development dependency the production image lacks.
  .action(async (opts: { keep?: boolean; skill?: string }) => {
    if (opts.skill === undefined)
      return (await import("./commands/demo.js")).runDemo(process.env, { keep: opts.keep === true });
    if (opts.skill !== "deploy-triage")
      throw new ValidationError("--skill takes deploy-triage (the example in examples/skills/)");
    return (await import("./commands/demo-skill.js")).runSkillDemo(process.env, { keep: opts.keep === true });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  const { code, message, exitCode } = describeError(err);
  // Commander has printed its own usage error (and help / version) already.
  if (code !== "USAGE") {
    console.error(`praxa: ${code}: ${message}`);
    if (jsonOutput) console.log(JSON.stringify({ error: { code, message } }));
    if (process.env.PRAXA_DEBUG) console.error(err);
  }
  process.exitCode = exitCode;
  // A connection left open by the failed command must not keep the process alive (stdout is flushed first).
  setTimeout(() => process.exit(exitCode), 200).unref();
});
