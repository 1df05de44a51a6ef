/**
 * bench/ingest's load generator, run as a process of its own (an in-process client shares the server's event loop and
 * deflates whatever it measures). autocannon posts signed webhooks — each a distinct PR with a fresh delivery id, so
 * nothing is deduplicated away — and prints one JSON line: requests/s, latency percentiles, non-2xx count.
 *
 * Input (env): BENCH_LOAD = {"url","kind":"github"|"slack","amount","connections","offset","installationId","secret"}.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import { z } from "zod";

const Args = z.object({
  url: z.url(),
  kind: z.enum(["github", "slack"]),
  amount: z.number().int().min(1),
  connections: z.number().int().min(1),
  offset: z.number().int().min(0),
  installationId: z.string(),
  secret: z.string().min(1),
});
const args = Args.parse(JSON.parse(process.env.BENCH_LOAD ?? "{}"));

const fixture = (path: string) =>
  JSON.parse(readFileSync(new URL(`../../test/data/fixtures/${path}`, import.meta.url), "utf8")) as Record<
    string,
    unknown
  >;
const github = fixture("github/pull_request.opened.json");
const slack = fixture("slack/event_callback.app_mention.json");

let counter = args.offset;
function githubRequest(): { body: string; headers: Record<string, string> } {
  counter++;
  const body = JSON.stringify({
    ...github,
    number: counter,
    installation: { ...(github.installation as object), id: Number(args.installationId) },
    pull_request: { ...(github.pull_request as object), number: counter },
  });
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": "sha256=" + createHmac("sha256", args.secret).update(body).digest("hex"),
    },
  };
}
function slackRequest(): { body: string; headers: Record<string, string> } {
  counter++;
  const body = JSON.stringify({ ...slack, event_id: `Ev${String(counter).padStart(10, "0")}` });
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-slack-request-timestamp": ts,
      "x-slack-signature": "v0=" + createHmac("sha256", args.secret).update(`v0:${ts}:${body}`).digest("hex"),
    },
  };
}

// autocannon's own clock is coarse here (a run of `amount` requests ends on its next one-second tick, so its duration
// and anything derived from it are rounded up to whole seconds): the phase is timed from the start to the last
// response.
const started = performance.now();
let lastResponse = started;
const result = await new Promise<autocannon.Result>((resolve, reject) => {
  const instance = autocannon(
    {
      url: args.url,
      connections: args.connections,
      amount: args.amount,
      requests: [
        args.kind === "github"
          ? { method: "POST", path: "/webhooks/github", setupRequest: (req) => ({ ...req, ...githubRequest() }) }
          : {
              method: "POST",
              path: "/webhooks/slack/events",
              setupRequest: (req) => ({ ...req, ...slackRequest() }),
            },
      ],
    },
    (err: unknown, res: autocannon.Result) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res),
  );
  instance.on("response", () => {
    lastResponse = performance.now();
  });
});
const seconds = (lastResponse - started) / 1000;
process.stdout.write(
  `${JSON.stringify({
    rps: result.requests.total / seconds,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
  })}\n`,
);
