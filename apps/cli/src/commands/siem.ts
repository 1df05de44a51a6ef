/**
 * `pnpm praxa siem list|create|pause|resume|test|rotate|delete` — SIEM subscriptions through the api, with the
 * operator's own api token (api-session.ts). The api checks the endpoint (egress guard, signed challenge), seals the
 * credentials and audits every change; `create` and `rotate` print the `whpk_` public key and, with `--hmac`, the
 * `whsec_` secret — the only time it is shown.
 */
import type { operations } from "@praxa/api-client";
import { parseId, ValidationError } from "@praxa/core";
import type { ConfigSource } from "@praxa/config";
import { answered, apiFromEnv } from "./api-session.js";

type Listed = operations["listSiemSubscriptions"]["responses"][200]["content"]["application/json"];
type Created = operations["createSiemSubscription"]["responses"][201]["content"]["application/json"];
type One = operations["pauseSiemSubscription"]["responses"][200]["content"]["application/json"];

export interface SiemCreateOptions {
  readonly url: string;
  readonly format?: string;
  readonly token?: string;
  readonly apiKey?: string;
  readonly hmac?: boolean;
  readonly startAt?: string;
  readonly batchMaxEvents?: string;
  readonly batchMaxBytes?: string;
}

function intOf(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new ValidationError(`${flag} takes a whole number from ${min} to ${max}`);
  return n;
}

export async function listSiemSubscriptions(env: ConfigSource): Promise<Listed> {
  return answered(await apiFromEnv(env).GET("/v1/siem-subscriptions"));
}

export async function createSiemSubscription(env: ConfigSource, o: SiemCreateOptions): Promise<Created> {
  const format = o.format ?? "jsonl";
  const startAt = o.startAt ?? "beginning";
  if (startAt !== "beginning" && startAt !== "now") throw new ValidationError("--start-at is beginning or now");
  const batchMaxEvents = intOf("--batch-max-events", o.batchMaxEvents, 1, 1000);
  const batchMaxBytes = intOf("--batch-max-bytes", o.batchMaxBytes, 4096, 1024 * 1024);
  const common = {
    url: o.url,
    hmac: o.hmac === true,
    startAt: startAt as "beginning" | "now",
    ...(batchMaxEvents !== undefined ? { batchMaxEvents } : {}),
    ...(batchMaxBytes !== undefined ? { batchMaxBytes } : {}),
  };
  const api = apiFromEnv(env);
  if (format === "jsonl") return answered(await api.POST("/v1/siem-subscriptions", { body: { format, ...common } }));
  if (format === "splunk-hec") {
    if (!o.token) throw new ValidationError("splunk-hec needs --token (the HEC token)");
    return answered(await api.POST("/v1/siem-subscriptions", { body: { format, token: o.token, ...common } }));
  }
  if (format === "datadog") {
    if (!o.apiKey) throw new ValidationError("datadog needs --api-key (a Datadog API key)");
    return answered(await api.POST("/v1/siem-subscriptions", { body: { format, apiKey: o.apiKey, ...common } }));
  }
  throw new ValidationError("--format is jsonl, splunk-hec or datadog");
}

export async function changeSiemSubscription(
  env: ConfigSource,
  verb: "pause" | "resume",
  subscription: string,
): Promise<One> {
  const params = { params: { path: { id: parseId("siemSubscription", subscription) } } };
  const api = apiFromEnv(env);
  return answered(
    verb === "pause"
      ? await api.POST("/v1/siem-subscriptions/{id}/pause", params)
      : await api.POST("/v1/siem-subscriptions/{id}/resume", params),
  );
}

export async function testSiemSubscription(env: ConfigSource, subscription: string) {
  return answered(
    await apiFromEnv(env).POST("/v1/siem-subscriptions/{id}/test", {
      params: { path: { id: parseId("siemSubscription", subscription) } },
    }),
  );
}

export async function rotateSiemSubscription(env: ConfigSource, subscription: string, overlapHours?: string) {
  const hours = intOf("--overlap-hours", overlapHours, 1, 168);
  return answered(
    await apiFromEnv(env).POST("/v1/siem-subscriptions/{id}/rotate", {
      params: { path: { id: parseId("siemSubscription", subscription) } },
      body: hours === undefined ? {} : { overlapHours: hours },
    }),
  );
}

export async function deleteSiemSubscription(env: ConfigSource, subscription: string) {
  return answered(
    await apiFromEnv(env).DELETE("/v1/siem-subscriptions/{id}", {
      params: { path: { id: parseId("siemSubscription", subscription) } },
    }),
  );
}
