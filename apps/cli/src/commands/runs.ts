/**
 * `pnpm praxa runs list|cancel|retry` — runs through the api, with the operator's own api token (api-session.ts):
 *   runs list [--status failed] [--skill sk_…] [--trigger …] [--from …] [--to …] [--limit n]   (dead letters: failed)
 *   runs cancel <run> [--reason "…"]                     one run: queued → cancelled, running → cancelling
 *   runs cancel --skill … --status queued,running --trigger … --from … --to … [--limit n] [--reason "…"]
 *   runs retry <run>                                      a failed run, redriven as a new run
 *   runs retry --skill … --error-code … --trigger … --from … --to … [--limit n]
 * A bulk verb needs at least one filter (the api refuses an empty one too). The api decides who may (not a viewer)
 * and audits each change.
 */
import type { operations } from "@praxa/api-client";
import { parseId, ValidationError } from "@praxa/core";
import type { ConfigSource } from "@praxa/config";
import { answered, apiFromEnv } from "./api-session.js";

type ListAnswer = operations["listRuns"]["responses"][200]["content"]["application/json"];

export interface RunFilterOptions {
  readonly skill?: string;
  readonly status?: string;
  readonly trigger?: string;
  readonly from?: string;
  readonly to?: string;
  readonly limit?: string;
  readonly errorCode?: string;
}

const RUN_STATUSES = [
  "queued",
  "running",
  "waiting_approval",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "denied",
] as const;
type RunStatus = (typeof RUN_STATUSES)[number];

function limitOf(raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > max)
    throw new ValidationError(`--limit takes a whole number from 1 to ${max}`);
  return n;
}

function timeOf(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = new Date(raw);
  if (Number.isNaN(t.getTime())) throw new ValidationError(`${flag} takes an ISO-8601 time, e.g. 2026-12-07T09:00:00Z`);
  return t.toISOString();
}

function reasonOf(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const reason = raw.trim();
  if (reason.length < 1 || reason.length > 500) throw new ValidationError("--reason must be 1 to 500 characters");
  return reason;
}

/** The filter flags given, in the api's terms; undefined ones left out. */
function commonFilter(o: RunFilterOptions): { skillId?: string; trigger?: string; from?: string; to?: string } {
  const from = timeOf("--from", o.from);
  const to = timeOf("--to", o.to);
  return {
    ...(o.skill !== undefined ? { skillId: parseId("skill", o.skill) } : {}),
    ...(o.trigger !== undefined ? { trigger: o.trigger } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
}

function given(o: RunFilterOptions, flags: readonly (keyof RunFilterOptions)[]): boolean {
  return flags.some((f) => o[f] !== undefined);
}

/** `praxa runs list`: one page of runs, newest first (the api's filters; `next` pages on). */
export async function listRuns(
  env: ConfigSource,
  o: RunFilterOptions & { readonly cursor?: string },
): Promise<ListAnswer> {
  if (o.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(o.status))
    throw new ValidationError(`--status is one of ${RUN_STATUSES.join(", ")}`);
  const f = commonFilter(o);
  const limit = limitOf(o.limit, 200);
  const query = {
    ...(o.status !== undefined ? { status: o.status as RunStatus } : {}),
    ...(f.skillId !== undefined ? { skill: f.skillId } : {}),
    ...(f.trigger !== undefined ? { trigger: f.trigger } : {}),
    ...(f.from !== undefined ? { from: f.from } : {}),
    ...(f.to !== undefined ? { to: f.to } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(o.cursor !== undefined ? { cursor: o.cursor } : {}),
  };
  return answered(await apiFromEnv(env).GET("/v1/runs", { params: { query } }));
}

export type CancelAnswer =
  | { readonly run: { readonly id: string; readonly outcome: "cancelled" | "cancelling" } }
  | { readonly cancelled: number; readonly cancelling: number; readonly matched: number; readonly more: boolean };

/** `praxa runs cancel <run>` or `praxa runs cancel <filters>`: exactly one of the two. */
export async function cancelRuns(
  env: ConfigSource,
  run: string | undefined,
  o: RunFilterOptions & { readonly reason?: string },
): Promise<CancelAnswer> {
  const reason = reasonOf(o.reason);
  const filters = given(o, ["skill", "status", "trigger", "from", "to"]);
  if (run !== undefined) {
    if (filters || o.limit !== undefined)
      throw new ValidationError("give a run id or filters (--skill, --status, --trigger, --from, --to), not both");
    const id = parseId("run", run);
    return answered(
      await apiFromEnv(env).POST("/v1/runs/{id}/cancel", {
        params: { path: { id } },
        body: reason === undefined ? {} : { reason },
      }),
    );
  }
  if (!filters)
    throw new ValidationError(
      "give a run id, or at least one filter (--skill, --status, --trigger, --from, --to): nothing cancels every run",
    );
  const status = o.status?.split(",").map((s) => s.trim());
  const cancellable = ["queued", "running", "waiting_approval"] as const;
  if (status && (status.length === 0 || !status.every((s) => (cancellable as readonly string[]).includes(s))))
    throw new ValidationError("--status takes queued, running, waiting_approval or a comma-separated list of them");
  const limit = limitOf(o.limit, 10_000);
  return answered(
    await apiFromEnv(env).POST("/v1/runs/cancel", {
      body: {
        ...commonFilter(o),
        ...(status ? { status: status as (typeof cancellable)[number][] } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(reason !== undefined ? { reason } : {}),
      },
    }),
  );
}

export type RetryAnswer =
  | { readonly run: { readonly id: string; readonly retryOf: string } }
  | {
      readonly retried: number;
      readonly refused: { readonly needs_new_version: number; readonly skill_paused: number };
      readonly matched: number;
      readonly more: boolean;
    };

/** `praxa runs retry <run>` or `praxa runs retry <filters>`: exactly one of the two. */
export async function retryRuns(env: ConfigSource, run: string | undefined, o: RunFilterOptions): Promise<RetryAnswer> {
  const filters = given(o, ["skill", "errorCode", "trigger", "from", "to"]);
  if (run !== undefined) {
    if (filters || o.limit !== undefined)
      throw new ValidationError("give a run id or filters (--skill, --error-code, --trigger, --from, --to), not both");
    const id = parseId("run", run);
    return answered(await apiFromEnv(env).POST("/v1/runs/{id}/retry", { params: { path: { id } } }));
  }
  if (!filters)
    throw new ValidationError(
      "give a run id, or at least one filter (--skill, --error-code, --trigger, --from, --to): nothing redrives every run",
    );
  const limit = limitOf(o.limit, 1000);
  return answered(
    await apiFromEnv(env).POST("/v1/runs/retry", {
      body: {
        ...commonFilter(o),
        ...(o.errorCode !== undefined ? { errorCode: o.errorCode } : {}),
        ...(limit !== undefined ? { limit } : {}),
      },
    }),
  );
}
