/**
 * The demo's webhooks: a GitHub `pull_request` delivery exactly as GitHub sends one — the recorded
 * `test/data/fixtures/github/pull_request.opened.json` (octokit/webhooks) rewritten to the sample PR's installation,
 * repository, number, author and head sha; headers `X-GitHub-Event`, `X-GitHub-Delivery` and
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>` over the exact bytes sent.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const GITHUB_FIXTURE_PATH = fileURLToPath(
  new URL("../../../../test/data/fixtures/github/pull_request.opened.json", import.meta.url),
);

/** What the demo knows of a sample pull request (a subset of the sandbox's `SandboxPullRequest`). */
export interface DemoPullRequest {
  readonly owner: string;
  readonly repo: string;
  readonly number: number;
  readonly title: string;
  readonly body: string;
  readonly draft?: boolean;
  readonly author: { readonly login: string; readonly type: "User" | "Bot" };
  readonly headSha: string;
  readonly baseRef: string;
}

export interface GithubDelivery {
  readonly event: "pull_request";
  readonly deliveryId: string;
  readonly body: Buffer;
  /** `sha256=<hex>`: the `X-Hub-Signature-256` header. */
  readonly signature: string;
}

export function githubSignature(secret: string, body: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

type Json = Record<string, unknown>;

function object(parent: Json, key: string): Json {
  const v = parent[key];
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`the GitHub fixture has no object at ${key}`);
  return v as Json;
}

/** The recorded `pull_request.opened` payload, rewritten to `pr` under GitHub App installation `installationId`. */
export function pullRequestOpenedPayload(pr: DemoPullRequest, installationId: string): Buffer {
  const recorded = readFileSync(GITHUB_FIXTURE_PATH, "utf8");
  const payload = JSON.parse(recorded.replaceAll("Codertocat/Hello-World", `${pr.owner}/${pr.repo}`)) as Json;
  payload.action = "opened";
  payload.number = pr.number;
  object(payload, "installation").id = Number(installationId);
  const repository = object(payload, "repository");
  repository.name = pr.repo;
  object(repository, "owner").login = pr.owner;
  object(payload, "sender").login = pr.author.login;
  object(payload, "sender").type = pr.author.type;
  const pull = object(payload, "pull_request");
  Object.assign(pull, { number: pr.number, title: pr.title, body: pr.body, draft: pr.draft ?? false });
  Object.assign(object(pull, "user"), { login: pr.author.login, type: pr.author.type });
  object(pull, "head").sha = pr.headSha;
  object(pull, "base").ref = pr.baseRef;
  return Buffer.from(JSON.stringify(payload), "utf8");
}

export function signedDelivery(secret: string, body: Buffer, deliveryId: string = randomUUID()): GithubDelivery {
  return { event: "pull_request", deliveryId, body, signature: githubSignature(secret, body) };
}

export interface WebhookAnswer {
  readonly status: number;
  readonly runIds: readonly string[];
  readonly errorCode: string | null;
}

function parseAnswer(status: number, json: unknown): WebhookAnswer {
  const o = typeof json === "object" && json !== null ? (json as Record<string, unknown>) : {};
  const runIds = Array.isArray(o.runIds) && o.runIds.every((r): r is string => typeof r === "string") ? o.runIds : [];
  const error = typeof o.error === "object" && o.error !== null ? (o.error as Record<string, unknown>) : {};
  return { status, runIds, errorCode: typeof error.code === "string" ? error.code : null };
}

/** POSTs a delivery to ingest's `/webhooks/github`, as GitHub's hookshot does. */
export async function sendGithubDelivery(
  ingestUrl: string,
  delivery: GithubDelivery,
  signature: string = delivery.signature,
): Promise<WebhookAnswer> {
  const res = await fetch(`${ingestUrl}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/praxa-demo",
      "x-github-event": delivery.event,
      "x-github-delivery": delivery.deliveryId,
      "x-hub-signature-256": signature,
    },
    body: delivery.body,
    signal: AbortSignal.timeout(15_000),
  });
  return parseAnswer(res.status, await res.json().catch(() => null));
}

const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** The same request as a ready-to-paste `curl`, reading the exact signed bytes from `bodyFile`. */
export function curlCommand(ingestUrl: string, delivery: GithubDelivery, bodyFile: string): string {
  return [
    `curl -sS -X POST ${shellQuote(`${ingestUrl}/webhooks/github`)}`,
    `-H 'Content-Type: application/json'`,
    `-H ${shellQuote(`X-GitHub-Event: ${delivery.event}`)}`,
    `-H ${shellQuote(`X-GitHub-Delivery: ${delivery.deliveryId}`)}`,
    `-H ${shellQuote(`X-Hub-Signature-256: ${delivery.signature}`)}`,
    `--data-binary @${shellQuote(bodyFile)}`,
  ].join(" \\\n      ");
}
