/**
 * The console in a real browser (playwright-core driving Debian's Chromium) against the real api, database and a
 * loopback OpenID Provider (oidc-provider): sign in through SSO; see the run and its decision laid out; pause and
 * resume a Skill (a viewer cannot: the page says why); cancel a running run; verify the audit log; download the
 * export; a URL naming another workspace's run shows "not found"; axe (axe-core) finds no serious or critical
 * violation on any page; no page breaks its Content-Security-Policy.
 *
 * PRAXA_SCREENSHOTS=1 (scripts/console-screenshots.mjs) also writes the main pages to docs/console/*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import type { FastifyInstance } from "fastify";
import type { BrowserContext, Page } from "playwright-core";
import { buildApiServer } from "@praxa/api";
import { newId } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  registerAuditKey,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { startOidcServer, type OidcServer } from "@praxa/testkit";
import { ensureChromium, launchChromium } from "./chromium.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const require = createRequire(import.meta.url);
const chromiumPath = ensureChromium();
const suite = chromiumPath ? describe : describe.skip;
const screenshots = process.env.PRAXA_SCREENSHOTS === "1";

let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let idp: OidcServer;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
let browser: BrowserContext;
let page: Page;
let runningRunId: string;
let viewerEmail: string;
const cspViolations: string[] = [];
const log = createLogger({ name: "browser-test", level: "silent" });

async function shoot(name: string): Promise<void> {
  if (!screenshots) return;
  mkdirSync(join(root, "docs/console"), { recursive: true });
  await page.screenshot({ path: join(root, `docs/console/${name}.png`), fullPage: true });
}

/** axe-core in the page (evaluated through the DevTools protocol: the page's CSP still applies to the page). */
async function axeSerious(): Promise<string[]> {
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const results = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run: (ctx: unknown) => Promise<{ violations: { id: string; impact: string | null; nodes: unknown[] }[] }>;
        };
      }
    ).axe;
    const r = await axe.run((globalThis as unknown as { document: unknown }).document);
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  return results.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.nodes})`);
}

async function signIn(email: string, sub = `sub-${randomUUID()}`): Promise<void> {
  await browser.clearCookies();
  idp.signInAs({ sub, email });
  await page.goto(`${base}/`);
  await page.getByLabel("Workspace id").fill(A.workspaceId);
  await page.getByRole("button", { name: "Continue with single sign-on" }).click();
  await page.getByRole("navigation", { name: "Console" }).waitFor();
}

const webDist = mkdtempSync(join(tmpdir(), "praxa-console-dist-"));

beforeAll(async () => {
  if (!chromiumPath) return;
  // The console as it ships, built into a directory of this suite's own: the bundle scan's test and the image build
  // build the same app during the same `pnpm test` (into their own directories), so no build lock is shared.
  const vite = join(root, "apps/web/node_modules/vite/bin/vite.js");
  const built = spawnSync(
    process.execPath,
    [vite, "build", "--outDir", webDist, "--emptyOutDir", "--logLevel", "error", "--bypass-lock"],
    {
      cwd: join(root, "apps/web"),
      stdio: "inherit",
      env: { ...process.env, NODE_ENV: "production" },
    },
  );
  if (built.status !== 0) throw new Error("the console did not build");

  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  runningRunId = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status, attempt,
                                      lease_token, lease_holder, lease_expires_at, started_at)
              values (${A.workspaceId}, ${runningRunId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.synchronize',
                      'github', ${admin.json({ repo: "octo/hello", prNumber: 2 })}, 'running', 1, ${randomUUID()}, 'worker-1',
                      now() + interval '1 hour', now())`;
  viewerEmail = `viewer-${randomUUID()}@example.com`;
  await admin`insert into workspace_members (workspace_id, id, email, role) values (${A.workspaceId}, ${newId("member")}, ${viewerEmail}, 'viewer')`;
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  const signing = generateKeyPairSync("ed25519");
  const keyId = `aek_browser_${randomUUID()}`;
  await registerAuditKey(db, {
    keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.publicKey.export({ format: "der", type: "spki" }),
  });
  idp = await startOidcServer();
  // The api's public URL must be known before it listens: take a free port, then listen on it.
  const probe = await buildApiServer({ database: db, log });
  const publicUrl = await probe.listen({ port: 0, host: "127.0.0.1" });
  await probe.close();
  idp.setRedirectUri(`${publicUrl}/auth/callback`);
  app = await buildApiServer({
    database: db,
    log,
    auditSigner: { keyId, privateKey: signing.privateKey },
    console: {
      publicUrl,
      staticRoot: webDist,
      production: false,
      livePollMs: 500,
      oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret },
    },
  });
  base = await app.listen({ port: Number(new URL(publicUrl).port), host: "127.0.0.1" });
  browser = await launchChromium(chromiumPath);
  page = browser.pages()[0] ?? (await browser.newPage());
  // Each step waits for what it needs; a step that cannot happen fails with Playwright's own message, well inside
  // jest's limit.
  page.setDefaultTimeout(15_000);
  if (process.env.PRAXA_BROWSER_DEBUG) page.on("console", (m) => console.log(`[page] ${m.text()}`));
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await idp?.close();
  await db?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

suite("the console in Chromium", () => {
  it("signs in through SSO and shows the run and its decision: input → reasoning → alternatives → confidence → output", async () => {
    await signIn("admin-a@example.com");
    await page.goto(`${base}/runs`);
    await page.getByRole("link", { name: A.runId }).click();
    await page.getByRole("heading", { name: `Run ${A.runId}` }).waitFor();
    for (const h of ["Input", "Reasoning", "Alternatives", "Confidence", "Output", "Tools used"])
      await page.getByRole("heading", { name: h, exact: true }).waitFor();
    await page.getByText("approve: 0.90").waitFor();
    expect(await page.getByText("github.read.diff").count()).toBeGreaterThan(0);
    await page.locator(".recharts-bar-rectangle").first().waitFor();
    expect(await axeSerious()).toEqual([]);
    await shoot("run-detail");
    // "Replay this decision": the request is recorded (a worker would run it; none runs in this suite).
    await page.getByRole("button", { name: "Replay this decision" }).first().click();
    await page
      .getByRole("status")
      .getByText(/Replaying/)
      .first()
      .waitFor();
    const [asked] = await admin<{ n: number }[]>`
      select count(*)::int as n from audit_replays where workspace_id = ${A.workspaceId}`;
    expect(asked?.n).toBeGreaterThan(0);
  });

  it("lists runs with filters in the URL and passes axe", async () => {
    await page.goto(`${base}/runs?status=running`);
    await page.getByRole("link", { name: runningRunId }).waitFor();
    expect(await page.getByRole("link", { name: A.runId }).count()).toBe(0);
    expect(await page.getByLabel("Status").inputValue()).toBe("running");
    await page.getByLabel("Status").selectOption("succeeded");
    await page.waitForURL(/status=succeeded/);
    await page.getByRole("link", { name: A.runId }).waitFor();
    await page.getByText("● Live").waitFor();
    expect(await axeSerious()).toEqual([]);
    await page.goto(`${base}/runs`);
    await page.getByRole("link", { name: A.runId }).waitFor();
    await shoot("runs");
  });

  it("cancels a running run from its page", async () => {
    await page.goto(`${base}/runs/${runningRunId}`);
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.getByRole("button", { name: "Cancelling…" }).waitFor();
    const [row] = await admin`select cancel_requested_at from agent_runs where id = ${runningRunId}`;
    expect(row?.cancel_requested_at).not.toBeNull();
  });

  it("pauses and resumes a Skill with a reason; the acceptance chart is drawn", async () => {
    await page.goto(`${base}/skills`);
    await page.getByRole("link", { name: A.manifest.name }).click();
    await page.getByRole("heading", { name: "Acceptance over time" }).waitFor();
    expect(await axeSerious()).toEqual([]);
    await page.getByLabel("Reason").fill("pausing from the browser test");
    await page.getByRole("button", { name: "Pause", exact: true }).click();
    await page.getByText("Paused.").waitFor();
    await page.getByText("pausing from the browser test").first().waitFor();
    await shoot("skill");
    await page.getByLabel("Reason").fill("reviewed: resuming");
    await page.getByRole("button", { name: "Resume", exact: true }).click();
    await page.getByText("Resumed.").waitFor();
    const [skill] = await admin`select status from skills where id = ${A.skillId}`;
    expect(skill?.status).toBe("active");
  });

  it("verifies the audit log and downloads the export", async () => {
    await page.goto(`${base}/audit`);
    await page.getByRole("button", { name: "Verify the log" }).click();
    await page.getByText(/^Verified: \d+ events/).waitFor();
    await page.getByRole("button", { name: "Show the signing keys and checkpoints" }).click();
    await page.getByRole("heading", { name: "Public keys" }).waitFor();
    await page.getByText(`fixture-ev-${A.workspaceId}`).first().waitFor();
    await page.getByRole("table", { name: "Signed checkpoints" }).waitFor();
    expect(await axeSerious()).toEqual([]);
    await shoot("audit");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: /Download export/ }).click(),
    ]);
    const path = await download.path();
    const first = JSON.parse(readFileSync(path, "utf8").split("\n")[0]!) as { format: string; workspace_id: string };
    expect(first).toMatchObject({ format: "praxa-audit-export/v1", workspace_id: A.workspaceId });
  });

  it("settings show keys by fingerprint only, integrations, channels, tokens and members, and pass axe", async () => {
    await page.goto(`${base}/settings`);
    await page.getByRole("heading", { name: "Members" }).waitFor();
    await page.getByText("admin-a@example.com").first().waitFor();
    expect(await axeSerious()).toEqual([]);
    await shoot("settings");
  });

  it("publishes a workspace's own Skill: problems named by their path, then version 1; SIEM streams, approvals and an export request on settings", async () => {
    const doc = {
      slug: "console-skill",
      name: "Console Skill",
      triggers: ["trigger.build.failed"],
      input: { type: "object", properties: { service: { type: "string", audit: true } } },
      instructions: "Decide whether the team should hear about a failed build.",
      tools: ["webhook.callback"],
      decision: { verdicts: [{ name: "notify", description: "call the CI system back" }] },
      actions: { notify: [{ callback: {} }] },
      callback: { url: "https://ci.example.com/hook" },
      acceptance: { threshold: 0.5, window: 10, minSamples: 5 },
    };
    await page.goto(`${base}/skills`);
    const box = page.getByLabel("Skill document (JSON)");
    await box.fill(JSON.stringify({ ...doc, tools: [] }));
    await page.getByRole("button", { name: "Validate" }).click();
    await page.getByRole("list", { name: "Problems in the document" }).getByText("actions.notify.0").waitFor();
    await box.fill(JSON.stringify(doc));
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText(/console-skill: version 1 published/).waitFor();
    await page.getByRole("link", { name: "Console Skill" }).waitFor();
    expect(await axeSerious()).toEqual([]);
    const [row] = await admin<{ n: number }[]>`
      select count(*)::int as n from skill_versions v join skills s on s.id = v.skill_id
       where s.workspace_id = ${A.workspaceId} and s.slug = 'console-skill'`;
    expect(row?.n).toBe(1);

    await page.goto(`${base}/settings`);
    await page.getByRole("heading", { name: "SIEM streams" }).waitFor();
    // A stream to a private address is refused before any connection (the egress guard), and the page says so.
    await page.getByLabel("Endpoint URL (https)").fill("https://10.0.0.5/praxa");
    await page.getByRole("button", { name: "Create stream" }).click();
    await page
      .getByText(/EGRESS_REFUSED/)
      .first()
      .waitFor();
    await page.getByRole("heading", { name: "Approvals waiting for a human" }).waitFor();
    await page.getByRole("button", { name: "Export this workspace" }).click();
    await page
      .getByRole("status")
      .getByText(/^Export .*: (pending|running|done)/)
      .waitFor();
    expect(await axeSerious()).toEqual([]);
  });

  it("a URL naming another workspace's run shows not found", async () => {
    await page.goto(`${base}/runs/${B.runId}`);
    await page.getByText("Not found. It does not exist in this workspace.").waitFor();
    expect(await page.getByRole("heading", { name: `Run ${B.runId}` }).count()).toBe(0);
  });

  it("a viewer cannot resume: the button is disabled and the page says why", async () => {
    await admin`update skills set status = 'paused', paused_reason = 'paused for the viewer test', paused_at = now() where id = ${A.skillId}`;
    await signIn(viewerEmail);
    await page.goto(`${base}/skills/${A.skillId}`);
    const resume = page.getByRole("button", { name: "Resume", exact: true });
    await resume.waitFor();
    expect(await resume.isDisabled()).toBe(true);
    await page.getByText(/Only a workspace owner or admin may resume a Skill; you are a viewer/).waitFor();
    expect(await axeSerious()).toEqual([]);
  });

  it("axe bites: an image without a text alternative planted in the page is reported", async () => {
    await browser.clearCookies();
    await page.goto(`${base}/`);
    await page.getByLabel("Workspace id").waitFor();
    await page.evaluate(() => {
      const d = (
        globalThis as unknown as {
          document: { createElement(t: string): { src: string }; body: { append(n: unknown): void } };
        }
      ).document;
      const img = d.createElement("img");
      img.src = "/favicon.svg";
      d.body.append(img);
    });
    expect(await axeSerious()).toEqual([expect.stringMatching(/^image-alt/)]);
  });

  it("the sign-in page passes axe, and no page broke the Content-Security-Policy", async () => {
    await browser.clearCookies();
    await page.goto(`${base}/`);
    await page.getByLabel("Workspace id").waitFor();
    expect(await axeSerious()).toEqual([]);
    await shoot("signin");
    expect(cspViolations).toEqual([]);
  });
});
