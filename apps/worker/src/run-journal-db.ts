/**
 * The executor's journal and recorder over Postgres, for a run this worker holds. Each step is a `run_steps` row keyed
 * (run, index) written through `record_run_step`, which checks the lease: a completed step comes back as recorded
 * (replayed, never re-run). Results holding model or user content are sealed to the workspace's public key (HPKE —
 * sealing needs no secret) and opened only here, for this run; they are purged when the run ends.
 */
import { ConflictError, type AuditEventDraft, type TelemetryMeta, type WorkspaceId } from '@praxa/core';
import { sealCredential, type KeyProvider } from '@praxa/crypto';
import { appendAuditEvents, assertRunLease, insertRunEvent, recordRunStep, withWorkspace, workspacePublicKey, type AppendOptions, type AuditSigner, type Database, type RunLease } from '@praxa/db';
import type { Tracer } from '@praxa/observability';
import type { RunJournal, RunRecorder, StepOptions } from '@praxa/runtime';
import { openVaultRecordForRun } from './credentials.js';

export interface RunStorageDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  readonly signer: AuditSigner;
  readonly auditOptions?: AppendOptions;
  /** Spans for each telemetry row (the process's tracer; its exporter filters to the whitelist). */
  readonly tracer?: Tracer;
}

const STEP_CONTEXT = { provider: 'praxa', purpose: 'step_result' } as const;

export function createRunJournal(deps: RunStorageDeps, workspaceId: WorkspaceId, lease: RunLease): RunJournal {
  let publicKey: { keyId: string; publicKey: Buffer } | null = null;
  const inScope = <T>(fn: Parameters<typeof withWorkspace<T>>[2]) => withWorkspace(deps.database, workspaceId, fn);
  return {
    async step<T>(idx: number, o: StepOptions<T>, exec: () => Promise<T>) {
      const started = await inScope((s) => recordRunStep(s, lease, { idx, kind: o.kind, idempotencyKey: o.key, status: 'started' }));
      if (started.replayed) {
        if (started.result_sealed !== null) {
          const ciphertext = started.result_sealed;
          const plain = await inScope((s) => openVaultRecordForRun(deps.provider, s, lease, { ciphertext, key_id: '', provider: STEP_CONTEXT.provider, purpose: STEP_CONTEXT.purpose, expires_at: null }));
          return { value: o.schema.parse(JSON.parse(Buffer.from(plain).toString('utf8'))), replayed: true };
        }
        return { value: o.schema.parse(started.result), replayed: true };
      }
      const value = await exec();
      const json = JSON.stringify(value ?? null);
      if (o.sealed) {
        publicKey ??= await inScope((s) => workspacePublicKey(s));
        if (!publicKey) throw new ConflictError('this workspace has no key: run `pnpm praxa keys rotate --workspace …` first');
        const pk = publicKey;
        const sealed = await sealCredential({ keyId: pk.keyId, publicKey: pk.publicKey }, { workspaceId, ...STEP_CONTEXT }, json);
        await inScope((s) => recordRunStep(s, lease, { idx, kind: o.kind, idempotencyKey: o.key, status: 'completed', resultSealed: Buffer.from(sealed) }));
      } else {
        await inScope((s) => recordRunStep(s, lease, { idx, kind: o.kind, idempotencyKey: o.key, status: 'completed', result: JSON.parse(json) as unknown }));
      }
      return { value, replayed: false };
    },
  };
}

export function createRunRecorder(deps: RunStorageDeps, workspaceId: WorkspaceId, lease: RunLease): RunRecorder {
  const inScope = <T>(fn: Parameters<typeof withWorkspace<T>>[2]) => withWorkspace(deps.database, workspaceId, fn);
  return {
    async telemetry(meta: TelemetryMeta) {
      await inScope((s) => insertRunEvent(s, lease.runId, meta));
      // The span carries the same four attributes and nothing else (the exporter filters again).
      if (!deps.tracer) return;
      const end = Date.now();
      const span = deps.tracer.startSpan('praxa.step', { startTime: end - (meta.ms ?? 0) });
      for (const [k, v] of Object.entries(meta)) if (v !== null && v !== undefined) span.setAttribute(k, v);
      span.end(end);
    },
    async audit(draft: AuditEventDraft) {
      try {
        await inScope((s) => appendAuditEvents(s, [draft], deps.signer, deps.auditOptions));
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
