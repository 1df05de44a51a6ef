/** The pr-review Skill's structured decision: the verdict, why, what else it weighed, how sure, and its comments. */
import { z } from "zod";
import { BaseDecisionSchema } from "@praxa/runtime";

export const PR_REVIEW_VERDICTS = ["approve", "request_changes", "escalate_human"] as const;

export const PrReviewDecisionSchema = BaseDecisionSchema.extend({
  verdict: z.enum(PR_REVIEW_VERDICTS),
  summary: z.string().min(1).max(4_000),
  comments: z
    .array(
      z
        .object({ path: z.string().min(1).max(500), line: z.number().int().min(1), body: z.string().min(1).max(2_000) })
        .strict(),
    )
    .max(30),
}).strict();
export type PrReviewDecision = z.infer<typeof PrReviewDecisionSchema>;
