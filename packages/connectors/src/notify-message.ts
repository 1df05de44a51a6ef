/**
 * What a notification says, the same facts on every channel: for a pause or resume, which Skill, why (rate and
 * threshold) and what a human must do; for a SIEM stream the worker disabled, which stream, why, and how to resume it.
 * Pure; nothing secret goes in (ids, names, figures, the reason a human gave, an endpoint's host — never its path).
 */
export interface PauseNotice {
  readonly event: "skill.paused" | "skill.resumed";
  readonly workspaceId: string;
  readonly skill: { readonly id: string; readonly slug: string; readonly name: string };
  readonly cause: "acceptance" | "manual";
  readonly reason: string;
  readonly rate: number | null;
  readonly threshold: number | null;
  readonly decided: number | null;
  readonly pausedAt: Date;
  readonly resumedBy: string | null;
  readonly resumeReason: string | null;
}

/** A SIEM stream disabled by the worker (410 Gone, or failing for longer than the operator's limit). */
export interface SiemDisabledNotice {
  readonly event: "siem.disabled";
  readonly workspaceId: string;
  readonly subscription: { readonly id: string; readonly endpointHost: string; readonly format: string };
  /** `ENDPOINT_GONE` or `FAILING_TOO_LONG`. */
  readonly reason: string;
  readonly disabledAt: Date;
}

export type Notice = PauseNotice | SiemDisabledNotice;

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** One line: what happened. */
export function noticeSummary(n: Notice): string {
  if (n.event === "siem.disabled")
    return `Praxa disabled the SIEM stream to ${n.subscription.endpointHost}: ${n.reason === "ENDPOINT_GONE" ? "the endpoint answered 410 Gone" : "it kept failing past the limit"}`;
  if (n.event === "skill.resumed")
    return `Praxa: Skill ${n.skill.name} (${n.skill.slug}) was resumed by ${n.resumedBy ?? "an admin"}`;
  if (n.cause === "acceptance" && n.rate !== null && n.threshold !== null) {
    return `Praxa paused Skill ${n.skill.name} (${n.skill.slug}): acceptance ${pct(n.rate)} over the last ${n.decided ?? 0} decided actions, below its threshold ${pct(n.threshold)}`;
  }
  return `Praxa: Skill ${n.skill.name} (${n.skill.slug}) was paused by an admin`;
}

/** The full text (email body, Slack message). */
export function noticeText(n: Notice): string {
  if (n.event === "siem.disabled")
    return [
      noticeSummary(n),
      "",
      `Subscription: ${n.subscription.id} (${n.subscription.format})`,
      `Workspace: ${n.workspaceId}`,
      `Reason: ${n.reason}`,
      `Disabled at: ${n.disabledAt.toISOString()}`,
      "",
      "Its cursor is kept: audit events are not skipped, and retention holds the undelivered ones.",
      `Fix the endpoint, then resume: pnpm praxa siem resume ${n.subscription.id} (or POST /v1/siem-subscriptions/${n.subscription.id}/resume).`,
    ].join("\n");
  const lines = [noticeSummary(n), "", `Skill: ${n.skill.id}`, `Workspace: ${n.workspaceId}`];
  if (n.event === "skill.resumed") {
    lines.push(`Reason given: ${n.resumeReason ?? "—"}`, "", "The Skill runs again on new triggers.");
  } else {
    lines.push(`Reason: ${n.reason}`, `Paused at: ${n.pausedAt.toISOString()}`, "");
    lines.push("While paused, its triggers are recorded as skipped and no run reaches a model.");
    lines.push(
      `A human admin must review and resume it: pnpm praxa skills resume ${n.skill.id} --reason "…" (or POST /v1/skills/${n.skill.id}/resume).`,
    );
  }
  return lines.join("\n");
}
