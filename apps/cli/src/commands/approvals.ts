/**
 * `pnpm praxa approvals list|grant|deny` and `pnpm praxa members link-slack` — through the api, with the operator's own
 * api token (api-session.ts). Deciding needs a `human` token of a member whose role is one of the approval's roles; the
 * api refuses anything else (403), and so does the database. Linking a Slack user needs a human owner or admin.
 */
import type { operations } from "@praxa/api-client";
import { parseId, ValidationError } from "@praxa/core";
import type { ConfigSource } from "@praxa/config";
import { answered, apiFromEnv } from "./api-session.js";

type ListAnswer = operations["listApprovals"]["responses"][200]["content"]["application/json"];
type DecideAnswer = operations["grantApproval"]["responses"][200]["content"]["application/json"];
type LinkAnswer = operations["linkMemberSlack"]["responses"][200]["content"]["application/json"];

const STATUSES = ["pending", "granted", "denied", "expired"] as const;

/** `praxa approvals list [--status pending] [--limit n]`: newest first. */
export async function listApprovals(
  env: ConfigSource,
  o: { readonly status?: string; readonly limit?: string },
): Promise<ListAnswer> {
  if (o.status !== undefined && !(STATUSES as readonly string[]).includes(o.status))
    throw new ValidationError(`--status is one of ${STATUSES.join(", ")}`);
  let limit: number | undefined;
  if (o.limit !== undefined) {
    limit = Number(o.limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 200)
      throw new ValidationError("--limit takes a whole number from 1 to 200");
  }
  const query = {
    ...(o.status !== undefined ? { status: o.status as (typeof STATUSES)[number] } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
  return answered(await apiFromEnv(env).GET("/v1/approvals", { params: { query } }));
}

/** `praxa approvals grant|deny <approval> [--reason "…"]`. */
export async function decideApproval(
  env: ConfigSource,
  verb: "grant" | "deny",
  approval: string,
  o: { readonly reason?: string },
): Promise<DecideAnswer> {
  const id = parseId("approval", approval);
  let reason: string | undefined;
  if (o.reason !== undefined) {
    reason = o.reason.trim();
    if (reason.length < 1 || reason.length > 500) throw new ValidationError("--reason must be 1 to 500 characters");
  }
  const body = reason === undefined ? {} : { reason };
  const api = apiFromEnv(env);
  return answered(
    verb === "grant"
      ? await api.POST("/v1/approvals/{id}/grant", { params: { path: { id } }, body })
      : await api.POST("/v1/approvals/{id}/deny", { params: { path: { id } }, body }),
  );
}

/** `praxa members link-slack <member> <U…|--unlink>`. */
export async function linkSlack(
  env: ConfigSource,
  member: string,
  slackUserId: string | undefined,
  o: { readonly unlink?: boolean },
): Promise<LinkAnswer> {
  const id = parseId("member", member);
  if ((slackUserId === undefined) === (o.unlink !== true))
    throw new ValidationError("give a Slack user id (U…) or --unlink, not both");
  if (slackUserId !== undefined && !/^[UW][A-Z0-9]{2,30}$/.test(slackUserId))
    throw new ValidationError("a Slack user id looks like U0123ABCD");
  return answered(
    await apiFromEnv(env).PUT("/v1/members/{id}/slack", {
      params: { path: { id } },
      body: { slackUserId: slackUserId ?? null },
    }),
  );
}
