/**
 * The executor's journal and recorder over Postgres, for a run this worker holds. Each step is a `run_steps` row keyed
 * (run, index) written through `record_run_step`, which checks the lease. The run's recorded steps are read once; a
 * completed one is replayed, never re-run. A read costs one write (its completion); an effect two (started, then
 * completed). Results holding model or user content are sealed to the workspace's public key (HPKE —
 * sealing needs no secret) and opened only here, for this run; they are purged when the run ends.
 */
import { ConflictError, InternalError, type AuditEventDraft, type TelemetryMeta, type WorkspaceId } from "@praxa/core";
import { sealCredential, type KeyProvider } from "@praxa/crypto";
import {
  assertRunLease,
  insertRunEvents,
  readRunSteps,
  recordRunStep,
  withWorkspace,
  workspacePublicKey,
  type AuditWriter,
  type Database,
  type RecordedStep,
  type RunLease,
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

/** The run's recorded steps disagree with this execution (a non-deterministic replay, or a bug): stop. */
class StepMismatchError extends InternalError {}

const STEP_CONTEXT = { provider: "praxa", purpose: "step_result" } as const;

export function createRunJournal(deps: RunStorageDeps, workspaceId: WorkspaceId, lease: RunLease): RunJournal {
  let publicKey: { keyId: string; publicKey: Buffer } | null = null;
  // The run's recorded steps, read once: a first attempt finds none; a retry replays from these without a round trip each.
  let recorded: Promise<Map<number, RecordedStep>> | null = null;
  const inScope = <T>(fn: Parameters<typeof withWorkspace<T>>[2]) => withWorkspace(deps.database, workspaceId, fn);
  return {
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
      // An effect is marked started first (lease-checked), so a crash between it and its record is visible.
      if (o.effect)
        await inScope((s) => recordRunStep(s, lease, { idx, kind: o.kind, idempotencyKey: o.key, status: "started" }));
      const value = await exec();
      const json = JSON.stringify(value ?? null);
      let written;
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
        written = await inScope((s) =>
          recordRunStep(s, lease, {
            idx,
            kind: o.kind,
            idempotencyKey: o.key,
            status: "completed",
            resultSealed: Buffer.from(sealed),
          }),
        );
      } else {
        written = await inScope((s) =>
          recordRunStep(s, lease, {
            idx,
            kind: o.kind,
            idempotencyKey: o.key,
            status: "completed",
            result: JSON.parse(json) as unknown,
          }),
        );
      }
      // The database keeps the first completion (it never rewrites one): if this step had completed meanwhile, the
      // recorded result is the one that counts — but under a held lease that cannot happen; say so loudly if it does.
      if (written.replayed) throw new StepMismatchError("a step completed twice under one lease", { details: { idx } });
      return { value, replayed: false };
    },
  };
}

export function createRunRecorder(
  deps: RunStorageDeps,
  workspaceId: WorkspaceId,
  lease: RunLease,
): RunRecorder & { flush(): Promise<void> } {
  const inScope = <T>(fn: Parameters<typeof withWorkspace<T>>[2]) => withWorkspace(deps.database, workspaceId, fn);
  const buffer: TelemetryMeta[] = [];
  return {
    async flush() {
      if (buffer.length === 0) return;
      const rows = buffer.splice(0);
      await inScope((s) => insertRunEvents(s, lease.runId, rows));
    },
    async telemetry(meta: TelemetryMeta) {
      // Rows are buffered and written together (at the next flush: the end of the run, or every 16 rows); telemetry is
      // not a step, so a crash may lose the last few rows — never a step or an audit event.
      buffer.push(meta);
      if (buffer.length >= 16) await this.flush();
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
      await inScope((s) => assertRunLease(s, lease));
    },
  };
}
