/**
 * The audit events of administrative changes (review issue #16, finding 3): every change an admin makes through the
 * api — a token minted or revoked, a BYOK key added or deleted, a notification channel added or deleted, a trigger
 * secret created or revoked, the redaction policy changed, an integration installed — appends one signed `admin.*`
 * event in the transaction of the change: both commit or neither does. Each names its actor (member and token id) and
 * its target id; never a secret, a secret's hash, or a sealed value. Without an audit signer the api refuses every
 * such change (503), as it does a Skill's resume.
 */
import { newId, UnavailableError, type AdminEventKind, type AuditEventDraft, type SkillId } from "@praxa/core";
import { appendAuditEvents, type AuditSigner, type WorkspaceScope } from "@praxa/db";
import type { Caller } from "./route-auth.js";

type JsonObject = AuditEventDraft["input"];

export interface AdminChange {
  readonly kind: AdminEventKind;
  /** The id of what changed (a token, key, channel, secret, integration; the workspace for its redaction policy). */
  readonly targetId: string;
  /** Facts about the change, never a secret. */
  readonly details?: JsonObject;
  /** What the target is now (status, fingerprint, digests…), never a secret. */
  readonly output?: JsonObject;
  /** Only for `admin.trigger_secret.*`: the Skill the secret belongs to. */
  readonly skillId?: SkillId;
}

/** The signer, or 503: an administrative change that cannot be audited is not made. */
export function requireAuditSigner(signer: AuditSigner | undefined): AuditSigner {
  if (!signer)
    throw new UnavailableError(
      "audit signing is not configured on this api: administrative changes are refused until it is",
    );
  return signer;
}

function adminEventDraft(caller: Pick<Caller, "memberId" | "token">, change: AdminChange): AuditEventDraft {
  return {
    auditEventId: newId("auditEvent"),
    kind: change.kind,
    skillId: change.skillId ?? null,
    runId: null,
    trigger: `api.${change.kind}`,
    input: {
      actor_member_id: caller.memberId,
      actor_token_id: caller.token.tokenId,
      target_id: change.targetId,
      ...(change.details ?? {}),
    },
    reasoning: [],
    alternatives: [],
    confidence: null,
    output: { ...(change.output ?? {}) },
    tools_used: [],
    duration_ms: 0,
    occurred_at: new Date().toISOString(),
  };
}

/** Append the events of administrative changes in the caller's transaction (the scope of the change itself). */
export async function appendAdminEvents(
  scope: WorkspaceScope,
  signer: AuditSigner | undefined,
  caller: Pick<Caller, "memberId" | "token">,
  changes: readonly AdminChange[],
): Promise<void> {
  const s = requireAuditSigner(signer);
  if (changes.length === 0) return;
  await appendAuditEvents(
    scope,
    changes.map((c) => adminEventDraft(caller, c)),
    s,
  );
}
