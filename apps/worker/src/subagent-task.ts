/**
 * A sub-agent's task — the dispatching model's free text for the child — at rest: sealed by the parent's worker to the
 * workspace's public key (HPKE, as step content; the AAD names the child run, so a ciphertext moved to another run
 * does not open), stored by `dispatch_subagent_run`, opened only by the worker holding the child's lease, deleted when
 * the child's run ends. Never logged, never in the child's plaintext input.
 */
import { ConflictError, runPayloadContext, type RunId, type WorkspaceId } from "@praxa/core";
import { sealCredential, type KeyProvider } from "@praxa/crypto";
import { readRunPayload, readSubagentTask, workspacePublicKey, type RunLease, type WorkspaceScope } from "@praxa/db";
import { openVaultRecordForRun } from "./credentials.js";

const PROVIDER = "praxa";
const purposeFor = (childRunId: RunId): string => `subagent_task/${childRunId}`;

/** Seal a task for the child run `childRunId` (sealing needs only the workspace's public key). */
export async function sealSubagentTask(
  scope: WorkspaceScope,
  workspaceId: WorkspaceId,
  childRunId: RunId,
  task: string,
): Promise<Uint8Array> {
  const pk = await workspacePublicKey(scope);
  if (!pk) throw new ConflictError("this workspace has no key: run `pnpm praxa keys rotate --workspace …` first");
  return sealCredential(
    { keyId: pk.keyId, publicKey: pk.publicKey },
    { workspaceId, provider: PROVIDER, purpose: purposeFor(childRunId) },
    task,
  );
}

/** The task of the sub-agent run this worker holds, opened under its lease; null when there is none. */
export async function openSubagentTask(
  provider: KeyProvider,
  scope: WorkspaceScope,
  lease: RunLease,
): Promise<string | null> {
  const sealed = await readSubagentTask(scope, lease);
  if (sealed === null) return null;
  const plain = await openVaultRecordForRun(provider, scope, lease, {
    ciphertext: sealed,
    key_id: "",
    provider: PROVIDER,
    purpose: purposeFor(lease.runId),
    expires_at: null,
  });
  return Buffer.from(plain).toString("utf8");
}

/**
 * The producer payload of the declarative run this worker holds — the fields its Skill version declared, projected and
 * sealed by ingest (the AAD names the run) — opened under its lease; null when there is none (purged: the run ended).
 */
export async function openRunPayload(
  provider: KeyProvider,
  scope: WorkspaceScope,
  lease: RunLease,
): Promise<Record<string, unknown> | null> {
  const sealed = await readRunPayload(scope, lease);
  if (sealed === null) return null;
  const ctx = runPayloadContext(scope.workspaceId, lease.runId);
  const plain = await openVaultRecordForRun(provider, scope, lease, {
    ciphertext: sealed,
    key_id: "",
    provider: ctx.provider,
    purpose: ctx.purpose,
    expires_at: null,
  });
  const value: unknown = JSON.parse(Buffer.from(plain).toString("utf8"));
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}
