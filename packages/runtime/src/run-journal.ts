/**
 * The executor's view of durability and recording, implemented by the worker over Postgres for a run it holds:
 * each step is a `run_steps` row keyed (run, index); a completed step is replayed, never re-run; every write presents
 * the lease.
 */
import type { z } from "zod";
import type { AuditEventDraft, TelemetryMeta } from "@praxa/core";

export interface StepOptions<T> {
  /** The step's kind (`model.call`, `tool.github.read.diff`, `decision.record`…). */
  readonly kind: string;
  /** Deterministic across retries: the same step of the same run always carries the same key. */
  readonly key: string;
  /** The result holds model or user content: sealed to the workspace key and purged at the end of the run. */
  readonly sealed: boolean;
  /** Parses the recorded result on replay (the database is a boundary too). */
  readonly schema: z.ZodType<T>;
  /**
   * The step changes the outside world: it is recorded `started` before it runs, so a crash between the effect and
   * its record is visible (and the tool's own idempotency check covers it). A read needs no such mark: re-running it
   * after a crash is harmless.
   */
  readonly effect?: boolean;
}

export interface RunJournal {
  step<T>(idx: number, options: StepOptions<T>, exec: () => Promise<T>): Promise<{ value: T; replayed: boolean }>;
}

export interface RunRecorder {
  /** A telemetry row: exactly `{tool_name, ms, code, iter}`. */
  telemetry(meta: TelemetryMeta): Promise<void>;
  /** Append an audit event (a retry's duplicate — same run, step, kind — is a no-op). */
  audit(draft: AuditEventDraft): Promise<void>;
  /** Throws LeaseLostError unless this worker still holds the run; called just before every external effect. */
  assertLease(): Promise<void>;
}
