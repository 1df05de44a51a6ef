/**
 * What a pause or resume notification says, the same facts on every channel: which Skill, why (rate and threshold),
 * and what a human must do. Pure; nothing secret goes in (ids, names, figures, the reason a human gave).
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

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** One line: what happened. */
export function noticeSummary(n: PauseNotice): string {
  if (n.event === "skill.resumed")
    return `Praxa: Skill ${n.skill.name} (${n.skill.slug}) was resumed by ${n.resumedBy ?? "an admin"}`;
  if (n.cause === "acceptance" && n.rate !== null && n.threshold !== null) {
    return `Praxa paused Skill ${n.skill.name} (${n.skill.slug}): acceptance ${pct(n.rate)} over the last ${n.decided ?? 0} decided actions, below its threshold ${pct(n.threshold)}`;
  }
  return `Praxa: Skill ${n.skill.name} (${n.skill.slug}) was paused by an admin`;
}

/** The full text (email body, Slack message). */
export function noticeText(n: PauseNotice): string {
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
