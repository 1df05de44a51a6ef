/**
 * The pr-review Skill's offline rules: read the diff, then decide from risk surfaces, test coverage and line findings.
 * Deterministic — same diff, same decision, byte for byte (replay depends on it).
 */
import { z } from "zod";
import {
  DECISION_TOOL_WIRE_NAME,
  toolResultInConversation,
  wireToolName,
  type ModelRequest,
  type ModelResponse,
} from "@praxa/runtime";
import { analyzeDiff } from "./diff-analysis.js";
import type { PrReviewDecision } from "./pr-review-decision.js";
import { matchesAny } from "./repo-config.js";

const DIFF_TOOL = wireToolName("github.read.diff");
/** The line of the first message that carries the repository configuration the rules use. */
export const PRAXA_CONFIG_PREFIX = "praxa-config: ";
const ConfigLine = z.object({ ignore: z.array(z.string()) });

function ignoredFromConversation(request: ModelRequest): (path: string) => boolean {
  const first = request.messages[0]?.content.find((b) => b.type === "text");
  const line =
    first?.type === "text" ? first.text.split("\n").find((l) => l.startsWith(PRAXA_CONFIG_PREFIX)) : undefined;
  if (line === undefined) return () => false;
  try {
    const parsed = ConfigLine.safeParse(JSON.parse(line.slice(PRAXA_CONFIG_PREFIX.length)));
    return parsed.success ? (path) => matchesAny(path, parsed.data.ignore) : () => false;
  } catch {
    return () => false;
  }
}

const DiffResult = z.object({
  pullRequest: z.object({ title: z.string(), author: z.string() }).loose(),
  authorHistory: z.array(z.object({ dir: z.string(), commits: z.number() })).default([]),
  files: z.array(z.object({ filename: z.string(), status: z.string(), patch: z.string().nullable() }).loose()),
});

const round2 = (n: number): number => Math.round(n * 100) / 100;

export function decideFromDiff(
  diff: z.infer<typeof DiffResult>,
  ignored: (path: string) => boolean = () => false,
): PrReviewDecision {
  const a = analyzeDiff(diff.files, ignored);
  const reasoning: string[] = [];
  let scores = { approve: 0.7, request_changes: 0.3, escalate_human: 0.2 };
  if (a.files === 0) {
    reasoning.push("No reviewable files changed (all ignored or empty).");
    scores = { approve: 0.8, request_changes: 0.1, escalate_human: 0.2 };
  } else if (a.docsOnly) {
    reasoning.push(
      `Documentation-only change (${a.files} file${a.files === 1 ? "" : "s"}): no runtime behaviour changes.`,
    );
    scores = { approve: 0.92, request_changes: 0.05, escalate_human: 0.1 };
  } else {
    if (a.riskSurfaces.length > 0) {
      reasoning.push(
        `Diff touches ${a.riskyFiles.slice(0, 3).join(", ")} — high-risk surface (${a.riskSurfaces.join(", ")}).`,
      );
      scores = { approve: 0.42, request_changes: 0.83, escalate_human: 0.71 };
      const riskyDirs = new Set(a.riskyFiles.map((f) => f.split("/").slice(0, -1).join("/") || "."));
      const newcomer = diff.authorHistory.filter((h) => riskyDirs.has(h.dir) && h.commits === 0);
      for (const h of newcomer) reasoning.push(`Author has 0 prior commits in ${h.dir}.`);
      if (newcomer.length > 0) scores = { ...scores, escalate_human: 0.78 };
    } else {
      reasoning.push(`Diff touches ${a.files} file${a.files === 1 ? "" : "s"}; no high-risk surface matched.`);
    }
    if (a.sourceChanged.length > 0 && a.testsChanged.length === 0) {
      reasoning.push(
        `Source changed (${a.sourceChanged.length} file${a.sourceChanged.length === 1 ? "" : "s"}) with no test changed or added.`,
      );
      scores = {
        approve: Math.min(scores.approve, 0.35),
        request_changes: Math.max(scores.request_changes, 0.78),
        escalate_human: Math.max(scores.escalate_human, 0.4),
      };
    } else if (a.testsChanged.length > 0) {
      reasoning.push(
        `Tests changed alongside the code (${a.testsChanged.length} file${a.testsChanged.length === 1 ? "" : "s"}).`,
      );
    }
    if (a.findings.length > 0) {
      reasoning.push(`${a.findings.length} line${a.findings.length === 1 ? "" : "s"} worth a comment.`);
      scores = {
        ...scores,
        request_changes: Math.max(scores.request_changes, 0.6),
        approve: Math.min(scores.approve, 0.5),
      };
    }
    if (a.riskSurfaces.length > 1 || a.addedLines > 800) {
      reasoning.push("Several risk surfaces or a very large change: a human should decide.");
      scores = { ...scores, escalate_human: Math.max(scores.escalate_human, 0.88) };
    }
  }
  const alternatives = (["approve", "request_changes", "escalate_human"] as const).map((action) => ({
    action,
    score: round2(scores[action]),
  }));
  const best = [...alternatives].sort((x, y) => y.score - x.score)[0] ?? {
    action: "escalate_human" as const,
    score: 0.5,
  };
  const summary =
    best.action === "approve"
      ? "Looks good to merge."
      : best.action === "request_changes"
        ? "Changes requested: see the inline comments and reasoning."
        : "Escalated to a human reviewer: this change needs a person’s judgement.";
  return {
    verdict: best.action,
    reasoning,
    alternatives,
    confidence: best.score,
    summary,
    comments: a.findings.map((f) => ({ path: f.path, line: f.line, body: f.body })),
  };
}

export function prReviewOfflineRules(request: ModelRequest): Pick<ModelResponse, "content" | "stopReason"> {
  {
    const ignored = ignoredFromConversation(request);
    const diff = toolResultInConversation(request, DIFF_TOOL, DiffResult);
    const forced = request.toolChoice.type === "tool";
    if (diff === null && !forced && request.tools.some((t) => t.name === DIFF_TOOL)) {
      return {
        content: [{ type: "tool_use", id: "toolu_offline_diff", name: DIFF_TOOL, input: {} }],
        stopReason: "tool_use",
      };
    }
    const decision: PrReviewDecision =
      diff === null
        ? {
            verdict: "escalate_human",
            reasoning: ["The diff could not be read."],
            alternatives: [{ action: "escalate_human", score: 0.9 }],
            confidence: 0.9,
            summary: "Escalated: the diff could not be read.",
            comments: [],
          }
        : decideFromDiff(diff, ignored);
    return {
      content: [{ type: "tool_use", id: "toolu_offline_decision", name: DECISION_TOOL_WIRE_NAME, input: decision }],
      stopReason: "tool_use",
    };
  }
}
