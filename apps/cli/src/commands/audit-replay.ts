/**
 * `pnpm praxa audit replay --workspace <ws> --event <ae_id>`: reconstruct a decision from its audit record and re-run
 * it on the offline model.
 *  1. The record (read as the api role, in the workspace's scope) names the Skill, the run, the manifest hash, the
 *     model and the SHA-256 of every tool result the decision rested on, by step.
 *  2. The manifest is the one stored with that hash (its hash is checked); the run's trigger and input come from the
 *     run row (kept; its sealed step results were purged when it ended — "LLM data never stored").
 *  3. Whatever was not kept is re-fetched as the bot (the GitHub App's installation token: the PR and its diff), each
 *     result hashed and compared with the recorded hash of the same step: a changed input is named.
 *  4. The decision is re-run on the offline model and compared with the recorded one (verdict, reasoning,
 *     alternatives, confidence): for an offline-model decision it must match exactly.
 * Nothing is posted: the replay stops at the decision (no act phase, no audit event, no run row touched).
 */
import { createGithubRepoClient, mintInstallationToken } from "@praxa/connectors";
import {
  canonicalJson,
  manifestHash,
  parseAuditEventBody,
  parseId,
  parseSkillManifest,
  ValidationError,
  type AuditEventBody,
} from "@praxa/core";
import { and, createDatabase, eq, readMemoryFacts, schema, sql, withWorkspace } from "@praxa/db";
import {
  BUILTIN_TOOLS,
  createOfflineProvider,
  executeRun,
  OFFLINE_MODEL_ID,
  type RunJournal,
  type RunRecorder,
  type ToolEnvironment,
} from "@praxa/runtime";
import { resolveSkill } from "@praxa/skills";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { withLocalDefaults } from "./local-env.js";

export interface ReplayReport {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

class ReplayUnsupportedError extends ValidationError {}

export async function replayAuditEvent(env: ConfigSource, workspace: string, event: string): Promise<ReplayReport> {
  const workspaceId = parseId("workspace", workspace);
  const eventId = parseId("auditEvent", event);
  const local = withLocalDefaults(env);
  const apiCfg = await bootConfig("api", { env: local, envFile: ".env" });
  const workerCfg = await bootConfig("worker", { env: local, envFile: ".env" });
  const db = createDatabase(apiCfg.API_DATABASE_URL, { max: 2, applicationName: "praxa-audit-replay" });
  const lines: string[] = [];
  try {
    const loaded = await withWorkspace(db, workspaceId, async (s) => {
      const rows = await s.execute(sql`select canonical from public.audit_events where id = ${eventId}`);
      const canonical = rows[0]?.canonical;
      if (!(canonical instanceof Buffer)) throw new ValidationError("no such audit event in this workspace");
      const record: AuditEventBody = parseAuditEventBody(JSON.parse(canonical.toString("utf8")));
      if (record.kind !== "skill.action" || record.runId === null || record.skillId === null)
        throw new ReplayUnsupportedError("only skill.action events are decisions that can be replayed");
      const [version] = await s.db
        .select({ manifest: schema.skillVersions.manifest, hash: schema.skillVersions.manifestHash })
        .from(schema.skillVersions)
        .where(
          and(
            eq(schema.skillVersions.skillId, record.skillId),
            eq(schema.skillVersions.manifestHash, record.manifest_hash ?? ""),
          ),
        );
      const [run] = await s.db
        .select({
          trigger: schema.agentRuns.trigger,
          input: schema.agentRuns.input,
          integrationId: schema.agentRuns.integrationId,
        })
        .from(schema.agentRuns)
        .where(eq(schema.agentRuns.id, record.runId));
      const [skill] = await s.db
        .select({ slug: schema.skills.slug })
        .from(schema.skills)
        .where(eq(schema.skills.id, record.skillId));
      // The installation the run came through (issue 16): never just the workspace's first one.
      const active = and(eq(schema.integrations.provider, "github"), eq(schema.integrations.status, "active"));
      const installs = await s.db
        .select({ externalId: schema.integrations.externalId })
        .from(schema.integrations)
        .where(run?.integrationId ? and(active, eq(schema.integrations.id, run.integrationId)) : active)
        .limit(2);
      const install = installs.length === 1 ? installs[0] : undefined;
      return { record, version, run, skill, install };
    });
    const { record, version, run, skill } = loaded;
    const { runId, skillId } = record;
    if (runId === null || skillId === null) throw new ReplayUnsupportedError("only decisions of a run can be replayed");
    if (!version || !run || !skill)
      throw new ValidationError("the run, Skill version or Skill of this event no longer exists");
    const manifest = parseSkillManifest(version.manifest);
    const pinned = manifestHash(manifest) === record.manifest_hash;
    lines.push(
      `manifest ${record.manifest_hash?.slice(0, 12)}…: ${pinned ? "matches its recorded hash" : "CHANGED (the stored manifest no longer hashes to the recorded hash)"}`,
    );
    const runInput = run.input as Record<string, unknown>;
    // Fields of the record that come from the run row must still match it (derived ones are checked after the replay).
    const keptInput = Object.entries(record.input).every(
      ([k, v]) =>
        !(k in runInput) ||
        canonicalJson(v) === canonicalJson(runInput[k] ?? null) ||
        (v !== null && typeof v === "object"),
    );
    lines.push(
      `input (kept in the record): ${keptInput ? "matches the run row" : "CHANGED (the run row no longer matches the recorded input)"}`,
    );

    const app =
      workerCfg.GITHUB_APP_ID !== undefined && workerCfg.GITHUB_APP_PRIVATE_KEY !== undefined
        ? {
            appId: workerCfg.GITHUB_APP_ID,
            privateKeyPem: workerCfg.GITHUB_APP_PRIVATE_KEY,
            baseUrl: workerCfg.GITHUB_API_URL,
          }
        : null;
    const envForTools: ToolEnvironment = {
      async github() {
        if (!app || !loaded.install)
          throw new ReplayUnsupportedError(
            "re-fetching from GitHub needs the GitHub App (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY) and the run's installation (recorded on the run, or the workspace's only one)",
          );
        // Read-only, and only the run's repository when it names one.
        const repo =
          typeof (loaded.run?.input as Record<string, unknown> | undefined)?.["repo"] === "string"
            ? /^[\w.-]+\/([\w.-]+)$/.exec(String((loaded.run?.input as Record<string, unknown>)["repo"]))?.[1]
            : undefined;
        const minted = await mintInstallationToken(app, Number(loaded.install.externalId), {
          ...(repo ? { repositories: [repo] } : {}),
          permissions: { contents: "read", pull_requests: "read" },
        });
        return createGithubRepoClient({ token: minted.token, baseUrl: app.baseUrl });
      },
      slack: () => Promise.reject(new ReplayUnsupportedError("replaying Slack inputs is not supported yet")),
      slackTeam: () => Promise.reject(new ReplayUnsupportedError("a replay posts nothing")),
      callback: () => Promise.reject(new ReplayUnsupportedError("a replay calls nobody back")),
      memory: {
        read: (namespace, keys) => withWorkspace(db, workspaceId, (s) => readMemoryFacts(s, namespace, keys)),
        write: () => Promise.reject(new ReplayUnsupportedError("a replay writes nothing")),
      },
      dispatchSubagent: () => Promise.reject(new ReplayUnsupportedError("a replay dispatches nothing")),
    };
    const journal: RunJournal = { step: async (_idx, _o, exec) => ({ value: await exec(), replayed: false }) };
    const recorder: RunRecorder = { telemetry: async () => {}, audit: async () => {}, assertLease: async () => {} };
    const definition = resolveSkill(skill.slug, manifest);
    const replay = await executeRun({
      runId,
      workspaceId,
      skillId,
      trigger: run.trigger,
      // The signed record is the truth for what it kept; the run row supplies the rest.
      input: {
        ...runInput,
        ...Object.fromEntries(Object.entries(record.input).filter(([, v]) => v === null || typeof v !== "object")),
      },
      manifest,
      manifestHash: record.manifest_hash ?? "",
      depth: 0,
      skill: definition,
      provider: createOfflineProvider(definition.offline),
      tools: new Map(BUILTIN_TOOLS.map((t) => [t.name, t])),
      env: envForTools,
      journal,
      recorder,
      decideOnly: true,
    });
    let inputsHold = true;
    for (const [k, v] of Object.entries(record.input)) {
      if (k in runInput) continue;
      const now = replay.auditInput?.[k];
      const same = now !== undefined && canonicalJson(now) === canonicalJson(v);
      if (!same) inputsHold = false;
      lines.push(
        `${k}: ${same ? "matches the recorded value" : "CHANGED since the decision (e.g. the repository’s .praxa.yaml)"}`,
      );
    }
    for (const [step, hash] of Object.entries(record.tool_result_hashes ?? {})) {
      const now = replay.toolResultHashes?.[step];
      if (now === undefined) {
        inputsHold = false;
        lines.push(`step ${step}: the replay did not call the tool the original run called at this step`);
      } else if (now !== hash) {
        inputsHold = false;
        lines.push(`step ${step}: tool result CHANGED — recorded ${hash.slice(0, 12)}…, now ${now.slice(0, 12)}…`);
      } else lines.push(`step ${step}: tool result matches its recorded hash ${hash.slice(0, 12)}…`);
    }
    const d = replay.decision;
    const same =
      d !== undefined &&
      d.verdict === (record.output as { verdict?: unknown }).verdict &&
      canonicalJson(d.reasoning) === canonicalJson(record.reasoning) &&
      canonicalJson(d.alternatives) === canonicalJson(record.alternatives) &&
      d.confidence === record.confidence;
    const offline = record.model === OFFLINE_MODEL_ID;
    lines.push(
      `decision on the offline model: ${d?.verdict ?? "none"} (confidence ${d?.confidence ?? "-"}) — ${same ? "identical to the recorded decision" : offline ? "DIFFERENT from the recorded offline decision" : `differs from the recorded decision of ${record.model ?? "the original model"} (expected: only offline decisions reproduce exactly)`}`,
    );
    return { ok: pinned && keptInput && inputsHold && (same || !offline), lines };
  } finally {
    await db.close();
  }
}
