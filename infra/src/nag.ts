/**
 * cdk-nag (v3: CDK's native Validations API). Every acknowledged rule carries a written reason; `acknowledge` takes
 * the finding ids (`AwsSolutions-IAM5[Resource::*]`) one by one, so one acknowledgement never hides another finding.
 */
import { Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

export interface Acknowledgement {
  readonly id: string;
  /** Why the finding is acceptable here — a sentence, not a label (the nag test rejects short reasons). */
  readonly reason: string;
  /** Specific findings of a rule that reports several (`Resource::*`); each is acknowledged as `id[finding]`. */
  readonly findings?: readonly string[];
}

export function acknowledge(scope: IConstruct, acks: readonly Acknowledgement[]): void {
  for (const a of acks) {
    if (a.reason.trim().length < 80)
      throw new Error(
        `acknowledging ${a.id} needs a reason of a sentence or more (why the finding is acceptable here)`,
      );
    const ids = a.findings ? a.findings.map((f) => `${a.id}[${f}]`) : [a.id];
    for (const id of ids) Validations.of(scope).acknowledge({ id, reason: a.reason });
  }
}
