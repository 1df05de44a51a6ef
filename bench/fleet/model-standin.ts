/**
 * bench/fleet's stand-in model provider, a process of its own: the testkit's loopback Anthropic Messages API (the
 * real wire format the real SDK speaks) answering every request with a short text message — or, with
 * BENCH_THROTTLE_FOR_MS, a 429 `rate_limit_error` for that long from its first request on, with the `retry-after` that
 * remains, as the API does for a key over its quota. Prints its URL on the first line of stdout.
 */
import { reply, startAnthropicServer } from "@praxa/testkit";

const throttleFor = Number(process.env.BENCH_THROTTLE_FOR_MS ?? 0);
let until = 0;
const server = await startAnthropicServer({
  apiKey: process.env.BENCH_MODEL_KEY ?? "sk-ant-bench",
  script: () => {
    if (throttleFor > 0 && until === 0) until = Date.now() + throttleFor;
    const left = until - Date.now();
    if (left > 0)
      return {
        kind: "error",
        status: 429,
        errorType: "rate_limit_error",
        headers: { "retry-after": String(Math.ceil(left / 1000)) },
      };
    return reply.text("ok");
  },
});
process.stdout.write(`${server.url}\n`);
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
