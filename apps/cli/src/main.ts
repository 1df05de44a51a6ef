#!/usr/bin/env node
/**
 * `praxa` — the operator's command line (`pnpm praxa <command>`). Config is loaded here, per command, never at import.
 */
import { Command } from 'commander';
import { isPraxaError } from '@praxa/core';
import { runMigrate } from './commands/migrate.js';
import { runSeed } from './commands/seed.js';
import { runApp, STARTABLE_APPS, type StartableApp } from './commands/start.js';
import { createHumanToken } from './commands/tokens.js';
import { requestKeyRotation } from './commands/keys.js';
import { replayAuditEvent } from './commands/audit-replay.js';
import { changeSkillStatus } from './commands/skills.js';
import { checkpointWorkspace, exportWorkspaceAudit, printAuditKeys, proveEvent, verifyExportFile, verifyProofFile, verifyWorkspaceAudit } from './commands/audit.js';
import { ValidationError } from '@praxa/core';

const program = new Command()
  .name('praxa')
  .description('Praxa: autonomous Skills in your GitHub and Slack, constrained by code and by the database.')
  .showHelpAfterError();

program
  .command('migrate')
  .description('create the roles (idempotent) and apply pending SQL migrations to DATABASE_URL')
  .action(async () => runMigrate(process.env));

program
  .command('seed')
  .description('provision a demo tenant, workspace, GitHub integration and Skill (prints their ids)')
  .action(async () => runSeed(process.env));

program
  .command('start')
  .description(`run one app in the foreground (${STARTABLE_APPS.join(", ")})`)
  .argument('<app>', 'the app to run')
  .action(async (app: string) => {
    if (!(STARTABLE_APPS as readonly string[]).includes(app)) {
      console.error(`praxa: unknown app "${app}"; one of: ${STARTABLE_APPS.join(', ')}`);
      process.exit(2);
    }
    process.exitCode = await runApp(app as StartableApp, [], process.env);
  });

program
  .command('reconcile')
  .description('one pass of the run reconciler: enqueue runs whose jobs were lost, hand back expired leases')
  .action(async () => {
    process.exitCode = await runApp('monitor', ['--reconcile-once'], process.env);
  });

const audit = program.command('audit').description('the audit log: verify, checkpoint, keys');
audit
  .command('verify')
  .description('verify chain, signatures and checkpoints — of a workspace in the database, or of an export file offline; exit 0 if everything holds')
  .option('--workspace <id>', 'the workspace (ws_…), read from the database')
  .option('--file <export.jsonl>', 'an export (pnpm praxa audit export), verified offline with no database')
  .option('--keys <keys.json>', 'with --file: the key set you pinned (pnpm praxa audit keys)')
  .option('--trusted-checkpoint <file>', 'a checkpoint line you kept earlier (from an export); proves the log only grew since')
  .option('--full', 'also every event’s Ed25519 signature, canonical form and schema (slower; uses every core)')
  .option('--threads <n>', 'with --full: how many threads verify the chain (default: every core, for long chains)')
  .option('--proof <file>', 'an inclusion proof (pnpm praxa audit prove), verified offline with --keys')
  .action(async (o: { workspace?: string; file?: string; keys?: string; trustedCheckpoint?: string; full?: boolean; threads?: string; proof?: string }) => {
    const threads = o.threads === undefined ? undefined : Number(o.threads);
    if (threads !== undefined && (!Number.isSafeInteger(threads) || threads < 1 || threads > 256)) throw new ValidationError('--threads takes a whole number from 1 to 256');
    const how = { full: o.full === true, ...(o.trustedCheckpoint ? { trustedFile: o.trustedCheckpoint } : {}), ...(threads === undefined ? {} : { threads }) };
    const onThreads = (n: number): string => (n > 1 ? ` (chain verified on ${n} threads)` : '');
    if (o.proof) {
      if (!o.keys) throw new ValidationError('--proof needs --keys (the key set you pinned)');
      const r = verifyProofFile(o.proof, o.keys);
      if (r.ok) console.log(`ok: event seq ${r.seq} is in the log checkpointed at tree_size ${r.treeSize}`);
      else console.error(`FAILED: ${r.failure}`);
      process.exitCode = r.ok ? 0 : 1;
      return;
    }
    if (o.file) {
      if (!o.keys) throw new ValidationError('--file needs --keys (the key set you pinned)');
      const r = await verifyExportFile(o.file, o.keys, how);
      if (r.ok) console.log(`ok: ${r.events} event(s), ${r.leaves} leaf hash(es), ${r.checkpoints} checkpoint(s) hold; trusted checkpoint: ${r.trustedCheckpoint}${onThreads(r.threads)}`);
      else console.error(`FAILED: ${r.failure}${onThreads(r.threads)}`);
      process.exitCode = r.ok ? 0 : 1;
      return;
    }
    if (!o.workspace) throw new ValidationError('give --workspace <id>, or --file <export> --keys <keys.json>');
    const r = await verifyWorkspaceAudit(process.env, o.workspace, how);
    if (r.ok) console.log(`ok: ${r.events} event(s) and ${r.checkpoints} checkpoint(s) hold (hashes, links, checkpoint signatures and roots${o.full ? ', every event signature' : ''})${onThreads(r.threads)}`);
    else console.error(`FAILED: ${r.failure} (${r.events} event(s), ${r.checkpoints} checkpoint(s) read)${onThreads(r.threads)}`);
    process.exitCode = r.ok ? 0 : 1;
  });
audit
  .command('prove')
  .description('print a compact RFC 9162 inclusion proof of one event against the newest checkpoint covering it')
  .requiredOption('--workspace <id>', 'the workspace (ws_…)')
  .requiredOption('--event <id>', 'the audit event (ae_…)')
  .action(async (o: { workspace: string; event: string }) => {
    console.log(await proveEvent(process.env, o.workspace, o.event));
  });
audit
  .command('replay')
  .description('re-fetch a decision’s inputs as the bot, check each against its recorded hash, and re-run the decision on the offline model; exit 0 if all hold')
  .requiredOption('--workspace <id>', 'the workspace (ws_…)')
  .requiredOption('--event <id>', 'the skill.action audit event (ae_…)')
  .action(async (o: { workspace: string; event: string }) => {
    const r = await replayAuditEvent(process.env, o.workspace, o.event);
    for (const line of r.lines) console.log(line);
    console.log(r.ok ? 'replay: the decision reproduces from inputs that match their recorded hashes' : 'replay: FAILED — see the lines above');
    if (!r.ok) process.exitCode = 1;
  });
audit
  .command('export')
  .description('write a workspace’s audit events (canonical bytes), leaf hashes, checkpoints and public keys as JSON Lines to stdout')
  .requiredOption('--workspace <id>', 'the workspace (ws_…)')
  .option('--from <time>', 'ISO-8601: events that occurred at or after')
  .option('--to <time>', 'ISO-8601: events that occurred before')
  .action(async (o: { workspace: string; from?: string; to?: string }) => {
    const n = await exportWorkspaceAudit(process.env, o.workspace, { ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) }, (line) => process.stdout.write(line + '\n'));
    console.error(`exported ${n} event(s)`);
  });
audit
  .command('checkpoint')
  .description('sign a checkpoint over a workspace’s chain now')
  .requiredOption('--workspace <id>', 'the workspace (ws_…)')
  .action(async (o: { workspace: string }) => {
    const cp = await checkpointWorkspace(process.env, o.workspace);
    console.log(cp ? JSON.stringify(cp) : 'nothing to checkpoint: no events yet, or none since the latest checkpoint');
  });
audit
  .command('keys')
  .description('print the public key set (event and checkpoint keys, by key_id) to pin for offline verification')
  .action(async () => {
    console.log(await printAuditKeys(process.env));
  });

const keysCmd = program.command('keys').description('workspace keys');
keysCmd
  .command('rotate')
  .description('enqueue a keys job: a worker creates a new workspace key pair (the old one is retired, still opens)')
  .requiredOption('--workspace <id>', 'the workspace (ws_…)')
  .action(async (o: { workspace: string }) => {
    console.log(`keys job enqueued: ${await requestKeyRotation(process.env, o.workspace)} (a running worker performs it: pnpm praxa start worker)`);
  });

const tokens = program.command('tokens').description('api tokens');
tokens
  .command('create')
  .description('mint a human api token for a workspace member (printed once; only its hash is stored)')
  .requiredOption('--workspace <id>', 'the workspace (ws_…)')
  .requiredOption('--member <id>', 'the member the token acts as (mb_…)')
  .option('--kind <kind>', 'human (automation tokens come from POST /v1/tokens)', 'human')
  .option('--name <name>', 'a label', 'cli')
  .option('--ttl-days <days>', 'lifetime in days (1..365)', '30')
  .action(async (o: { workspace: string; member: string; kind: string; name: string; ttlDays: string }) => {
    const t = await createHumanToken(process.env, { ...o, ttlDays: Number(o.ttlDays) });
    console.log(t.token);
    console.error(`token ${t.tokenId} (human) expires ${t.expiresAt.toISOString()} — shown once; store it now (audited: token.minted at seq ${t.auditSeq})`);
  });

const skills = program.command('skills').description('a Skill’s status (through the api, with your own token: PRAXA_API_TOKEN)');
for (const action of ['resume', 'pause'] as const) {
  skills
    .command(action)
    .description(action === 'resume' ? 'resume a paused Skill — only a human owner or admin may, with a reason; audited' : 'pause a Skill by hand (an owner or admin), with a reason; audited')
    .argument('<skill>', 'the Skill (sk_…)')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .action(async (skill: string, o: { reason: string }) => {
      const r = await changeSkillStatus(process.env, { action, skill, reason: o.reason });
      const changed = action === 'resume' ? r.resumed === true : r.paused === true;
      console.log(changed ? `${skill}: ${String(r.status)} (audited)` : `${skill}: already ${String(r.status)}; nothing changed`);
    });
}

program
  .command('demo')
  .description('the live demo on embedded defaults: ingest and a worker as real processes, a signed GitHub webhook over HTTP, the review on the sandbox GitHub, audit verify; Ctrl-C stops everything')
  .option('--keep', 'keep ingest, the worker and the sandbox GitHub running after the demo; prints a signed curl for another PR and where to look (Ctrl-C stops them)')
  // Loaded on use: the demo drives the testkit's sandbox GitHub, a development dependency the production image lacks.
  .action(async (opts: { keep?: boolean }) => (await import('./commands/demo.js')).runDemo(process.env, { keep: opts.keep === true }));

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isPraxaError(err)) {
    console.error(`praxa: ${err.code}: ${err.message}`);
  } else {
    console.error(`praxa: unexpected error: ${err instanceof Error ? err.name : 'unknown'}`);
    if (process.env.PRAXA_DEBUG) console.error(err);
  }
  process.exit(1);
});
