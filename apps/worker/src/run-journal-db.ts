/**
 * The executor's journal and recorder over Postgres, for a run this worker holds. Each step is a `run_steps` row keyed
 * (run, index) written through `record_run_step`, which checks the lease. The run's recorded steps come with its claim
 * (claim_run_context; read once otherwise); a completed one is replayed, never re-run.
 *
 * What is written when (issue #20: a run cost 16 transactions):
 *  - an effect is marked `started` (lease-checked) before it runs, in a transaction of its own that commits before
 *    the effect — with it go the completions of the reads that came before it, in the same transaction;
 *  - an effect's completion is written as soon as it returns (so a crash after it replays it rather than repeating it);
 *  - a read's completion is held in memory until the next write: the next effect's `started` mark, a flush (a
 *    deferral, a cancel), or the end of the run, whose transaction also writes the telemetry rows, purges the sealed
 *    step content and finishes the run. A crash before then loses only reads, which a retry makes again (harmless, as
 *    StepOptions.effect says); everything an effect's decision rested on is durable before the effect happens.
 *  - the executor's lease check just before an effect (`assertLease`) is the `started` mark itself when the journal
 *    wrote one a moment before (same step, no await of anything else in between); otherwise a round trip of its own.
 * Results holding model or user content are sealed to the workspace's public key (HPKE — sealing needs no secret;
 * the key comes with the claim) and opened only here, for this run; they are purged when the run ends.
 */
import { ConflictError, InternalError, type AuditEventDraft, type TelemetryMeta, type WorkspaceId } from "@praxa/core";
import { sealCredential, type KeyProvider } from "@praxa/crypto";
import {
  assertRunLease,
  insertRunEvents,
  purgeAndFinishRun,
  readRunSteps,
  recordRunSteps,
  withWorkspace,
  workspacePublicKey,
  type AuditWriter,
  type Database,
  type RecordedStepRecord,
  type RunLease,
  type StepWriteInput,
  type WorkspaceScope,
} from "@praxa/db";
import type { Tracer } from "@praxa/observability";
import type { RunJournal, RunRecorder, StepOptions } from "@praxa/runtime";
import { openVaultRecordForRun } from "./credentials.js";

export interface RunStorageDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  /** The process's audit writer: a run's events stand alone, so concurrent runs' events share commits (group commit). */
  readonly auditWriter: AuditWriter;
  /** Spans for each telemetry row (the process's tracer; its exporter filters to the whitelist). */
  readonly tracer?: Tracer;
}

/** What the claim already read for the run (claim_run_context): no round trip for them. */
export interface RunStorageSeed {
  readonly steps: readonly RecordedStepRecord[];
  readonly publicKey: { readonly keyId: string; readonly publicKey: Buffer } | null;
}

/** The run's recorded steps disagree with this execution (a non-deterministic replay, or a bug): stop. */
class StepMismatchError extends InternalError {}

const STEP_CONTEXT = { provider: "praxa", purpose: "step_result" } as const;

export interface RunEnd {
  readonly status: "succeeded" | "failed" | "skipped" | "cancelled" | "denied";
  readonly errorCode: string | null;
  readonly failureClass: string | null;
}

export interface RunStore {
  readonly journal: RunJournal;
  readonly recorder: RunRecorder & {
    /** Write what is held (read completions, telemetry rows) in one transaction. */
    flush(): Promise<void>;
  };
  /**
   * The end of the run in one transaction: what is held, the telemetry rows, the sealed step content purged (not for
   * a cancelled run: finish_run purges it itself) and the run finished under the lease.
   */
  finish(end: RunEnd): Promise<void>;
}

export function createRunStore(
  deps: RunStorageDeps,
  workspaceId: WorkspaceId,
  lease: RunLease,
  seed: RunStorageSeed | null = null,
): RunStore {
  const inScope = <T>(fn: (s: WorkspaceScope) => Promise<T>) => withWorkspace(deps.database, workspaceId, fn);
  let publicKey: { keyId: string; publicKey: Buffer } | null | undefined = seed ? seed.publicKey : undefined;
  // The run's recorded steps: from the claim, or read once. A first attempt finds none; a retry replays from these.
  let recorded: Promise<Map<number, RecordedStepRecord>> | null = seed
    ? Promise.resolve(new Map(seed.steps.map((r) => [r.idx, r])))
    : null;
  /** Read completions not written yet, in step order. */
  const held: StepWriteInput[] = [];
  /** Telemetry rows not written yet. */
  const telemetry: TelemetryMeta[] = [];
  /** Set while an effect runs right after its lease-checked `started` mark (the executor's assertLease is that mark). */
  let leaseCheckedForEffect = false;

  /** Write step records (lease-checked each) in the scope; a completed step found already completed is a bug. */
  const writeSteps = async (s: WorkspaceScope, steps: readonly StepWriteInput[]) => {
    if (steps.length === 0) return;
    const written = await recordRunSteps(s, lease, steps);
    // The database keeps the first completion (it never rewrites one): if a step had completed meanwhile, the recorded
    // result is the one that counts — but under a held lease that cannot happen; say so loudly if it does.
    const again = written.find((w, i) => w.replayed && steps[i]?.status === "completed");
    if (again) throw new StepMismatchError("a step completed twice under one lease", { details: { idx: again.idx } });
  };

  const journal: RunJournal = {
    async step<T>(idx: number, o: StepOptions<T>, exec: () => Promise<T>) {
      recorded ??= inScope((s) => readRunSteps(s, lease.runId)).then((rows) => new Map(rows.map((r) => [r.idx, r])));
      const prior = (await recorded).get(idx);
      if (prior && prior.idempotency_key !== o.key)
        throw new StepMismatchError(
          "a recorded step of this run has a different key: the run is not replaying deterministically",
          { details: { idx } },
        );
      if (prior?.status === "completed") {
        if (prior.result_sealed !== null) {
          const ciphertext = prior.result_sealed;
          const plain = await inScope((s) =>
            openVaultRecordForRun(deps.provider, s, lease, {
              ciphertext,
              key_id: "",
              provider: STEP_CONTEXT.provider,
              purpose: STEP_CONTEXT.purpose,
              expires_at: null,
            }),
          );
          return { value: o.schema.parse(JSON.parse(Buffer.from(plain).toString("utf8"))), replayed: true };
        }
        return { value: o.schema.parse(prior.result), replayed: true };
      }
      // An effect is marked started first (lease-checked, committed before it runs), with the reads held before it.
      if (o.effect) {
        const batch = [...held, { idx, kind: o.kind, idempotencyKey: o.key, status: "started" as const }];
        await inScope((s) => writeSteps(s, batch));
        held.splice(0, batch.length - 1);
        leaseCheckedForEffect = true;
      }
      let value: T;
      try {
        value = await exec();
      } finally {
        leaseCheckedForEffect = false;
      }
      const json = JSON.stringify(value ?? null);
      let write: StepWriteInput;
      if (o.sealed) {
        publicKey ??= await inScope((s) => workspacePublicKey(s));
        if (!publicKey)
          throw new ConflictError("this workspace has no key: run `pnpm praxa keys rotate --workspace …` first");
        const pk = publicKey;
        const sealed = await sealCredential(
          { keyId: pk.keyId, publicKey: pk.publicKey },
          { workspaceId, ...STEP_CONTEXT },
          json,
        );
        write = { idx, kind: o.kind, idempotencyKey: o.key, status: "completed", resultSealed: Buffer.from(sealed) };
      } else {
        write = { idx, kind: o.kind, idempotencyKey: o.key, status: "completed", result: JSON.parse(json) as unknown };
      }
      if (o.effect) await inScope((s) => writeSteps(s, [write]));
      else held.push(write);
      return { value, replayed: false };
    },
  };

  /** Held steps and telemetry in the scope (telemetry first: it needs no lease). */
  const writeHeld = async (s: WorkspaceScope, steps: readonly StepWriteInput[], rows: readonly TelemetryMeta[]) => {
    await Promise.all([insertRunEvents(s, lease.runId, rows), writeSteps(s, steps)]);
  };

  const recorder: RunStore["recorder"] = {
    async flush() {
      if (held.length === 0 && telemetry.length === 0) return;
      const steps = held.splice(0);
      const rows = telemetry.splice(0);
      try {
        await inScope((s) => writeHeld(s, steps, rows));
      } catch (err) {
        // The lease refused the steps (lost, or the run was cancelled): the telemetry rows are still the run's.
        if (steps.length === 0 || rows.length === 0) throw err;
        await inScope((s) => insertRunEvents(s, lease.runId, rows)).catch(() => undefined);
        throw err;
      }
    },
    async telemetry(meta: TelemetryMeta) {
      // Rows are held and written together (at the next flush or the end of the run, or every 16 rows); telemetry is
      // not a step, so a crash may lose the last few rows — never a step an effect rested on, nor an audit event.
      telemetry.push(meta);
      if (telemetry.length >= 16) {
        const rows = telemetry.splice(0);
        await inScope((s) => insertRunEvents(s, lease.runId, rows));
      }
      // The span carries the same four attributes and nothing else (the exporter filters again).
      if (!deps.tracer) return;
      const end = Date.now();
      // A child of the run's span (active while the executor runs): the model call or tool call this row records.
      const name = meta.tool_name === "model" ? "praxa.model.call" : "praxa.tool.call";
      const span = deps.tracer.startSpan(name, { startTime: end - (meta.ms ?? 0) });
      for (const [k, v] of Object.entries(meta)) if (v !== null && v !== undefined) span.setAttribute(k, v);
      span.end(end);
    },
    async audit(draft: AuditEventDraft) {
      try {
        await deps.auditWriter.append(workspaceId, [draft]);
      } catch (err) {
        // A retried run's duplicate (same run, step, kind): the unique index refused it, the chain is unchanged.
        if (err instanceof ConflictError) return;
        throw err;
      }
    },
    async assertLease() {
      // The journal marked this effect started a moment ago, lease-checked in Postgres: that was the check.
      if (leaseCheckedForEffect) {
        leaseCheckedForEffect = false;
        return;
      }
      await inScope((s) => assertRunLease(s, lease));
    },
  };

  return {
    journal,
    recorder,
    async finish(end) {
      const steps = held.splice(0);
      const rows = telemetry.splice(0);
      await inScope(async (s) => {
        await Promise.all([
          writeHeld(s, steps, rows),
          purgeAndFinishRun(s, lease, { ...end, purge: end.status !== "cancelled" }),
        ]);
      });
    },
  };
}
