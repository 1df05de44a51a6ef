/**
 * bench/scale's load generator, a process of its own: autocannon against one ingest URL with signed GitHub
 * `pull_request.opened` bodies built as bench/ingest builds them (a distinct PR, delivery id and signature per request,
 * so nothing is deduplicated away). Env: LOAD_URL, LOAD_CONNECTIONS, LOAD_AMOUNT, LOAD_SECRET, LOAD_INSTALLATION,
 * LOAD_PR_BASE (first PR number). Prints one JSON line: requests, seconds, rps, p50, p99, non2xx.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

const url = process.env.LOAD_URL ?? "";
const secret = process.env.LOAD_SECRET ?? "";
const installation = Number(process.env.LOAD_INSTALLATION ?? 1);
const template = JSON.parse(
  readFileSync(new URL("../../test/data/fixtures/github/pull_request.opened.json", import.meta.url), "utf8"),
) as Record<string, unknown>;
let counter = Number(process.env.LOAD_PR_BASE ?? 0);

function nextRequest(): { body: string; headers: Record<string, string> } {
  counter++;
  const body = JSON.stringify({
    ...template,
    number: counter,
    pull_request: { ...(template.pull_request as object), number: counter },
    installation: { ...(template.installation as object), id: installation },
  });
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": "sha256=" + createHmac("sha256", secret).update(body).digest("hex"),
    },
  };
}

const result = await autocannon({
  url,
  connections: Number(process.env.LOAD_CONNECTIONS ?? 8),
  amount: Number(process.env.LOAD_AMOUNT ?? 2000),
  requests: [{ method: "POST", path: "/webhooks/github", setupRequest: (req) => ({ ...req, ...nextRequest() }) }],
});
console.log(
  JSON.stringify({
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
  }),
);
