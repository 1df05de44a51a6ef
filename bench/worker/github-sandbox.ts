/**
 * The sandbox GitHub as a process of its own (bench/worker, bench/scale): started with `fork`, it serves the loopback
 * GitHub App API (`startGithubServer`) for the App key in BENCH_GITHUB_APP_KEY and answers its parent over IPC:
 *  - on start: `{ url }`;
 *  - `{ add: { from, count, headShaPrefix } }`: adds pull requests `from … from+count−1` of `acme/shop` (a risky file
 *    with one finding and an ordinary one), answers `{ added }`;
 *  - `{ calls: true }`: answers `{ calls }` (requests per route so far).
 * Its CPU is its own, so the worker's is measured without it.
 */
import { startGithubServer } from "@praxa/testkit";

const APP_ID = Number(process.env.BENCH_GITHUB_APP_ID ?? 777001);
const INSTALLATION = Number(process.env.BENCH_GITHUB_INSTALLATION ?? 5150);
const BOT = process.env.BENCH_GITHUB_BOT ?? "praxa-sandbox[bot]";
const key = process.env.BENCH_GITHUB_APP_KEY;
if (!key || !process.send) throw new Error("github-sandbox: start me with fork() and BENCH_GITHUB_APP_KEY");

const patch = (lines: readonly string[]): string =>
  [`@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`)].join("\n");
const FILES = [
  {
    filename: "src/payments/checkout.ts",
    patch: patch(["export function charge(amount: number) {", "  console.log(amount);", "  return amount * 100;", "}"]),
  },
  {
    filename: "src/cart/total.ts",
    patch: patch(["export const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);"]),
  },
];

/** The head sha of PR `n` (the parent derives the same one for the run's input). */
export const headSha = (n: number): string => n.toString(16).padStart(40, "0");

const gh = await startGithubServer({
  appId: APP_ID,
  privateKeyPem: key,
  installations: [{ id: INSTALLATION, account: "acme", permissions: { pull_requests: "write", contents: "read" } }],
  botLogin: BOT,
});
process.on("message", (m: { add?: { from: number; count: number }; calls?: true }) => {
  if (m.add) {
    for (let n = m.add.from; n < m.add.from + m.add.count; n++)
      gh.sandbox.addPullRequest({
        owner: "acme",
        repo: "shop",
        number: n,
        title: `Change ${n}`,
        body: "",
        author: { login: "dev", type: "User" },
        headSha: headSha(n),
        baseRef: "main",
        files: FILES.map((f) => ({ ...f })),
      });
    process.send?.({ added: m.add.count });
  }
  if (m.calls) process.send?.({ calls: gh.calls });
});
process.on("disconnect", () => {
  void gh.close().finally(() => process.exit(0));
});
process.send({ url: gh.url });
