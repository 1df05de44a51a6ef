/**
 * Replay one recorded decision, for any Skill (`resolveSkill(slug, manifest)` — never a slug switch):
 *  1. the pinned manifest must hash to the record's `manifest_hash`;
 *  2. the run's input is rebuilt from what the record kept and the run row holds (replay-inputs.ts), every field
 *     checked against the record; an input that can no longer be had is named and the decision is not re-made;
 *  3. the decision is re-made on the offline model (`executeRun({decideOnly: true})`: no act phase, no audit event),
 *     its tools re-fetching through the caller's read-only environment (as the bot); each tool result is hashed and
 *     compared with the recorded hash of the same step; a tool that finds its input gone
 *     (`ReplayInputUnavailableError`: a deleted thread or message) is named;
 *  4. the decision is compared with the recorded one (verdict, reasoning, alternatives, confidence) — exactly, for a
 *     decision the offline model made.
 * The environment is wrapped read-only here too: memory writes, sub-agent dispatch and effects are refused.
 */
import { createHash } from "node:crypto";
import {
  canonicalJson,
  isPraxaError,
  manifestHash,
  parseSkillManifest,
  ReplayInputUnavailableError,
  ReplayNotPossibleError,
  type AuditEventBody,
  type JsonValue,
  type ReplayDecisionCheck,
  type ReplayInputCheck,
  type ReplayReport,
  type ReplayStepCheck,
  type RunId,
  type SkillId,
  type WorkspaceId,
} from "@praxa/core";
import {
  BUILTIN_TOOLS,
  createOfflineProvider,
  executeRun,
  OFFLINE_MODEL_ID,
  type RunJournal,
  type RunRecorder,
  type ToolEnvironment,
} from "@praxa/runtime";
import { resolveSkill } from "../skill-registry.js";
import { checkDerivedField, rebuildRunInput } from "./replay-inputs.js";

export interface ReplayDecisionInput {
  readonly eventId: string;
  readonly workspaceId: WorkspaceId;
  /** The signed record, parsed from the event's stored canonical bytes. */
  readonly record: AuditEventBody;
  readonly skillSlug: string;
  /** The manifest stored with the Skill version whose hash the record names; null if none is stored any more. */
  readonly storedManifest: unknown;
  /** The run row's trigger and input, as they are now. */
  readonly run: { readonly trigger: string; readonly input: Readonly<Record<string, unknown>> };
  /** Re-fetches read-only, as the bot of the run's installation / team. */
  readonly env: ToolEnvironment;
  /** What the environment noticed while re-fetching (a message edited after the decision), read after the replay. */
  readonly findings?: () => readonly ReplayInputCheck[];
}

const short = (h: string | null): string => (h === null ? "-" : `${h.slice(0, 12)}…`);

function sha256Json(value: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(value ?? null), "utf8")
    .digest("hex");
}

class ReplayWritesNothingError extends ReplayNotPossibleError {}

/** The caller's environment with every write refused (a replay decides; it never acts). */
function readOnly(env: ToolEnvironment): ToolEnvironment {
  const refuse = (what: string) => () => Promise.reject(new ReplayWritesNothingError(`a replay ${what}`));
  return {
    github: () => env.github(),
    slack: (teamId) => env.slack(teamId),
    slackTeam: refuse("posts nothing"),
    memory: { read: (namespace, keys) => env.memory.read(namespace, keys), write: refuse("writes nothing") },
    dispatchSubagent: refuse("dispatches nothing"),
    callback: refuse("calls nobody back"),
  };
}

export async function replayDecision(x: ReplayDecisionInput): Promise<ReplayReport> {
  const { record } = x;
  if (record.kind !== "skill.action" || record.runId === null || record.skillId === null)
    throw new ReplayNotPossibleError("only skill.action events are decisions that can be replayed");
  const runId: RunId = record.runId;
  const skillId: SkillId = record.skillId;
  const recordedManifestHash = record.manifest_hash ?? null;

  // 1. The pinned manifest.
  const manifest = x.storedManifest === null ? null : parseSkillManifest(x.storedManifest);
  const nowHash = manifest === null ? null : manifestHash(manifest);
  const manifestCheck: ReplayInputCheck = {
    name: "manifest",
    source: "manifest",
    status: nowHash === null ? "unavailable" : nowHash === recordedManifestHash ? "matches" : "changed",
    recordedHash: recordedManifestHash,
    currentHash: nowHash,
    note:
      nowHash === null
        ? `manifest ${short(recordedManifestHash)}: no Skill version with this hash is stored any more`
        : nowHash === recordedManifestHash
          ? `manifest ${short(recordedManifestHash)}: matches its recorded hash`
          : `manifest ${short(recordedManifestHash)}: CHANGED (the stored manifest now hashes to ${short(nowHash)})`,
  };

  // 2. The run's input.
  const definition = manifest === null ? null : resolveSkill(x.skillSlug, manifest);
  const rebuilt = rebuildRunInput(record.input, x.run.input, definition?.payloadFields);
  const inputs: ReplayInputCheck[] = [...rebuilt.checks];

  // 3. The decision, re-made on the offline model through a journal that sees every tool result.
  const seen = new Map<string, { tool: string; hash: string | null; note: string | null }>();
  const journal: RunJournal = {
    step: async (idx, o, exec) => {
      const tool = o.kind.startsWith("tool.") ? o.kind.slice("tool.".length) : null;
      try {
        const value = await exec();
        if (tool !== null && o.effect !== true) seen.set(String(idx), { tool, hash: sha256Json(value), note: null });
        return { value, replayed: false };
      } catch (err) {
        if (tool !== null)
          seen.set(String(idx), {
            tool,
            hash: null,
            note: isPraxaError(err) ? `${err.message} (${err.code})` : "the tool failed",
          });
        throw err;
      }
    },
  };
  const recorder: RunRecorder = { telemetry: async () => {}, audit: async () => {}, assertLease: async () => {} };
  let replayed: Awaited<ReturnType<typeof executeRun>> | null = null;
  if (manifest !== null && definition !== null && rebuilt.input !== null) {
    try {
      replayed = await executeRun({
        runId,
        workspaceId: x.workspaceId,
        skillId,
        trigger: x.run.trigger,
        input: rebuilt.input,
        manifest,
        manifestHash: recordedManifestHash ?? "",
        depth: 0,
        skill: definition,
        provider: createOfflineProvider(definition.offline),
        tools: new Map(BUILTIN_TOOLS.map((t) => [t.name, t])),
        env: readOnly(x.env),
        journal,
        recorder,
        decideOnly: true,
      });
    } catch (err) {
      if (!isPraxaError(err) || err instanceof ReplayWritesNothingError) throw err;
      inputs.push({
        name: "re-fetched input",
        source: "refetch",
        status: "unavailable",
        recordedHash: null,
        currentHash: null,
        note:
          err instanceof ReplayInputUnavailableError
            ? err.message
            : `an input could not be fetched again: ${err.message} (${err.code})`,
      });
    }
  }
  inputs.push(...(x.findings?.() ?? []));
  if (replayed?.auditInput)
    for (const name of rebuilt.derived)
      inputs.push(checkDerivedField(name, record.input[name] as JsonValue, replayed.auditInput[name]));
  else if (replayed !== null)
    for (const name of rebuilt.derived)
      inputs.push(checkDerivedField(name, record.input[name] as JsonValue, undefined));

  // Tool steps: the recorded hash of each against what the replay fetched at the same step.
  const steps: ReplayStepCheck[] = [];
  for (const [step, recordedHash] of Object.entries(record.tool_result_hashes ?? {})) {
    const now = seen.get(step);
    if (now === undefined)
      steps.push({
        step,
        tool: null,
        status: replayed === null ? "not_reached" : "not_called",
        recordedHash,
        currentHash: null,
        note:
          replayed === null
            ? `step ${step}: not reached (an input before it is unavailable)`
            : `step ${step}: the replay did not call the tool the original run called at this step`,
      });
    else if (now.hash === null)
      steps.push({
        step,
        tool: now.tool,
        status: "unavailable",
        recordedHash,
        currentHash: null,
        note: `step ${step} (${now.tool}): NO LONGER AVAILABLE — ${now.note ?? "the tool failed"}; recorded hash ${short(recordedHash)}`,
      });
    else
      steps.push({
        step,
        tool: now.tool,
        status: now.hash === recordedHash ? "matches" : "changed",
        recordedHash,
        currentHash: now.hash,
        note:
          now.hash === recordedHash
            ? `step ${step} (${now.tool}): tool result matches its recorded hash ${short(recordedHash)}`
            : `step ${step} (${now.tool}): tool result CHANGED — recorded ${short(recordedHash)}, now ${short(now.hash)}`,
      });
  }

  // 4. The decision.
  const recordedVerdict = (record.output as { verdict?: unknown }).verdict;
  const recordedSummary = {
    verdict: typeof recordedVerdict === "string" ? recordedVerdict.slice(0, 64) : "(not kept)",
    confidence: record.confidence,
  };
  const offline = record.model === OFFLINE_MODEL_ID;
  const d = replayed?.decision;
  let decision: ReplayDecisionCheck;
  if (d === undefined)
    decision = {
      status: "not_replayed",
      recordedModel: record.model ?? null,
      recorded: recordedSummary,
      replayed: null,
      note: "decision: not re-made — an input it rests on is unavailable (named above), and a replay does not guess",
    };
  else {
    const same =
      d.verdict === recordedVerdict &&
      canonicalJson(d.reasoning) === canonicalJson(record.reasoning) &&
      canonicalJson(d.alternatives) === canonicalJson(record.alternatives) &&
      d.confidence === record.confidence;
    decision = {
      status: same ? "identical" : offline ? "different" : "model_differs",
      recordedModel: record.model ?? null,
      recorded: recordedSummary,
      replayed: { verdict: d.verdict, confidence: d.confidence },
      note: `decision on the offline model: ${d.verdict} (confidence ${d.confidence}) — ${
        same
          ? "identical to the recorded decision"
          : offline
            ? "DIFFERENT from the recorded offline decision"
            : `differs from the recorded decision of ${record.model ?? "the original model"} (expected: only offline decisions reproduce exactly)`
      }`,
    };
  }

  const all = [manifestCheck, ...inputs, ...steps];
  const changed = all.some((c) => c.status === "changed" || c.status === "not_called");
  const unavailable = all.some((c) => c.status === "unavailable" || c.status === "not_reached");
  const decisionHolds = decision.status === "identical" || decision.status === "model_differs";
  const outcome: ReplayReport["outcome"] = changed
    ? "changed"
    : unavailable
      ? "unavailable"
      : decisionHolds
        ? "reproduced"
        : "differs";
  const lines = [manifestCheck.note, ...inputs.map((c) => c.note), ...steps.map((c) => c.note), decision.note].map(
    (l) => l.slice(0, 600),
  );
  return {
    format: "praxa-replay/v1",
    eventId: x.eventId,
    runId,
    skillId,
    skillSlug: x.skillSlug,
    ok: outcome === "reproduced",
    outcome,
    manifest: manifestCheck,
    inputs,
    steps,
    decision,
    lines,
  };
}
