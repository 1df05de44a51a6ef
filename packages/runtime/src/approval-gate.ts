/**
 * Human approval of a gated tool (the manifest's `approval.tools`). The executor asks the hook, inside the tool's
 * journaled step, for the decision on this step: granted → the tool runs; none or pending → `ApprovalPendingError`
 * (the worker records the approval, posts Approve / Deny, and parks the run — no slot, no lease, its journal kept);
 * denied or expired → `ApprovalDeniedError` (no effect; the run finishes `denied`). A recorded step replays without
 * asking again, and a resumed run reaches the same step index by replaying its journal.
 */
import { PraxaError, type PraxaErrorOptions } from "@praxa/core";

export interface ApprovalDecisionRecord {
  readonly approvalId: string;
  readonly status: "pending" | "granted" | "denied" | "expired";
  /** The member who decided (granted, denied); null for the expiry. */
  readonly decidedByMember: string | null;
  readonly decidedVia: "api" | "slack" | "expiry" | null;
}

export interface ApprovalHook {
  /** The approval of this step of the run, or null if none was asked for yet. */
  decision(step: number): Promise<ApprovalDecisionRecord | null>;
  /** A decision was found and acted on (granted: the tool runs now; denied/expired: it never runs). Audit it. */
  decided(step: number, tool: string, decision: ApprovalDecisionRecord): Promise<void>;
}

export interface PendingApproval {
  readonly step: number;
  readonly tool: string;
  /** The decision's verdict and confidence, for the message (never user content). */
  readonly verdict: string | null;
  readonly confidence: number | null;
}

/** The gated tool needs a human's approval that has not been given yet: the run parks. Not a failure. */
export class ApprovalPendingError extends PraxaError {
  readonly code = "APPROVAL_PENDING";
  readonly httpStatus = 409;
  readonly pending: PendingApproval;
  constructor(pending: PendingApproval, options: PraxaErrorOptions = {}) {
    super("this tool waits for a human's approval", {
      ...options,
      details: { step: pending.step, tool: pending.tool },
    });
    this.pending = pending;
  }
}

/** A human denied the gated tool, or nobody decided in time: it never ran, and the run finishes `denied`. */
export class ApprovalDeniedError extends PraxaError {
  readonly code: "APPROVAL_DENIED" | "APPROVAL_EXPIRED";
  readonly httpStatus = 403;
  readonly step: number;
  readonly tool: string;
  constructor(status: "denied" | "expired", step: number, tool: string, options: PraxaErrorOptions = {}) {
    super(status === "denied" ? "a human denied this tool" : "nobody approved this tool in time", {
      ...options,
      details: { step, tool },
    });
    this.code = status === "denied" ? "APPROVAL_DENIED" : "APPROVAL_EXPIRED";
    this.step = step;
    this.tool = tool;
  }
}

/** A gated tool ran in a runtime that has no approval hook: it refuses rather than act unapproved. */
export class ApprovalUnavailableError extends PraxaError {
  readonly code = "APPROVAL_UNAVAILABLE";
  readonly httpStatus = 503;
}
