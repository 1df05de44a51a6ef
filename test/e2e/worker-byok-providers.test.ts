/**
 * The worker's production model wiring, end to end: `startWorker` with no provider override (what `pnpm praxa start
 * worker` runs), the endpoints from its configuration (BEDROCK_BASE_URL, BEDROCK_STS_ENDPOINT, VERTEX_BASE_URL,
 * VERTEX_TOKEN_URL), and the workspace's own credential, sealed in the vault and opened for the run only:
 *  - Amazon Bedrock with the workspace's access keys: every model request SigV4-signed with those keys;
 *  - Bedrock through the workspace's role: the worker assumes it with ExternalId = the run's workspace (from the row),
 *    and a role whose trust policy names another workspace is refused before any model request;
 *  - Google Vertex AI with the workspace's service account.
 * The real SDKs (@anthropic-ai/bedrock-sdk, @aws-sdk/client-sts, @anthropic-ai/vertex-sdk, google-auth-library)
 * against the loopbacks in packages/testkit, which verify signatures and tokens for real.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { reply, startBedrockServer, startVertexServer, type BedrockServer, type VertexServer } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { addedPatch, APPROVING_DECISION, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const WS_KEY_ID = "AKIAWORKSPACEOWNKEY1";
const WS_SECRET = randomBytes(30).toString("base64");
// Praxa's own AWS identity (the worker's default credential chain), which assumes a workspace's role.
const PRAXA_KEY_ID = "AKIAPRAXAWORKERKEY01";
const PRAXA_SECRET = randomBytes(30).toString("base64");
const ROLE = "arn:aws:iam::210987654321:role/PraxaBedrock";
const OTHER_ROLE = "arn:aws:iam::210987654321:role/SomeoneElsesRole";
const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const SERVICE_ACCOUNT = {
  type: "service_account",
  project_id: "acme-ml",
  private_key_id: "k1",
  private_key: sa.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  client_email: "runner@acme-ml.iam.gserviceaccount.com",
};

let h: WorkerHarness;
let bedrock: BedrockServer;
let vertex: VertexServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

const script = () => [
  reply.toolUse({ name: "github_read_diff", input: {} }),
  reply.toolUse({ name: "record_decision", input: APPROVING_DECISION }),
];
let pr = 60;
const testedPr = () => ({
  number: ++pr,
  files: [
    { filename: "src/x.ts", patch: addedPatch(["export const x = 1;"]) },
    { filename: "src/x.test.ts", patch: addedPatch(["test"]) },
  ],
});

beforeAll(async () => {
  h = await startWorkerHarness();
  bedrock = await startBedrockServer({
    region: "us-west-2",
    accessKeys: { [WS_KEY_ID]: WS_SECRET, [PRAXA_KEY_ID]: PRAXA_SECRET },
    roles: [
      { arn: ROLE, externalId: h.ws.workspaceId },
      { arn: OTHER_ROLE, externalId: "ws_01jsomeoneelse000000000000" },
    ],
  });
  vertex = await startVertexServer({
    region: "europe-west1",
    serviceAccounts: [
      {
        clientEmail: SERVICE_ACCOUNT.client_email,
        publicKeyPem: sa.publicKey.export({ format: "pem", type: "spki" }).toString(),
        privateKeyId: "k1",
        projects: ["acme-ml"],
      },
    ],
  });
  // The AWS SDK's default credential chain reads the process environment: this is the worker's own identity.
  process.env.AWS_ACCESS_KEY_ID = PRAXA_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = PRAXA_SECRET;
  worker = await startWorker({
    ...h.env,
    BEDROCK_BASE_URL: bedrock.url,
    BEDROCK_STS_ENDPOINT: bedrock.url,
    VERTEX_BASE_URL: vertex.baseUrl,
    VERTEX_TOKEN_URL: vertex.tokenUrl,
  });
});
afterAll(async () => {
  await worker?.close();
  await Promise.all([bedrock?.close(), vertex?.close()]);
  await h?.close();
  for (const [k, v] of [
    ["AWS_ACCESS_KEY_ID", savedEnv.id],
    ["AWS_SECRET_ACCESS_KEY", savedEnv.secret],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** A new tested PR, its run created, enqueued and waited for. */
async function runNewPr() {
  const p = testedPr();
  const runId = await h.createPrRun(p);
  await h.enqueueRun(runId);
  return { p, runId, outcome: await h.waitForRun(runId) };
}

describe("the worker on the workspace’s own Bedrock or Vertex credential (production wiring)", () => {
  it("Bedrock with the workspace’s access keys: the run is reviewed, every model request signed with those keys", async () => {
    await h.storeModelCredential(
      { provider: "bedrock", region: "us-west-2", accessKeyId: WS_KEY_ID, secretAccessKey: WS_SECRET },
      WS_KEY_ID.slice(-4),
    ); // fingerprints are 4 characters
    bedrock.reset(script());
    const { p, runId, outcome } = await runNewPr();
    expect(outcome).toEqual({ status: "succeeded", error_code: null });
    expect(bedrock.messageRequests).toHaveLength(2);
    expect(bedrock.signedBy).toEqual([WS_KEY_ID, WS_KEY_ID]);
    expect(bedrock.messageRequests[0]?.model).toMatch(/^([a-z]+\.)?anthropic\.claude-/);
    expect(h.gh.sandbox.reviews("acme", "shop", p.number)).toHaveLength(1);
    const [event] = await h.admin<
      { canonical: Buffer }[]
    >`select canonical from audit_events where run_id = ${runId} and kind = 'skill.action'`;
    expect(event!.canonical.toString()).not.toContain(WS_SECRET);
  });

  it("Bedrock through the workspace’s role: assumed with ExternalId = the run’s workspace; another workspace’s role is refused", async () => {
    await h.storeModelCredential({ provider: "bedrock", region: "us-west-2", roleArn: ROLE }, "role");
    bedrock.reset(script());
    const { outcome } = await runNewPr();
    expect(outcome).toEqual({ status: "succeeded", error_code: null });
    expect(bedrock.assumeRoleCalls).toEqual([
      {
        callerAccessKeyId: PRAXA_KEY_ID,
        roleArn: ROLE,
        roleSessionName: `praxa-${h.ws.workspaceId}`,
        externalId: h.ws.workspaceId,
        issuedAccessKeyId: expect.stringMatching(/^ASIA/),
      },
    ]);
    expect(bedrock.signedBy.every((k) => k.startsWith("ASIA"))).toBe(true);

    // A role whose trust policy names another workspace: STS refuses the worker (ExternalId mismatch), no model request.
    await h.storeModelCredential({ provider: "bedrock", region: "us-west-2", roleArn: OTHER_ROLE }, "othr");
    bedrock.reset(script());
    const refused = await runNewPr();
    expect(refused.outcome.status).toBe("failed");
    expect(refused.outcome.error_code).toMatch(/^MODEL_/);
    expect(bedrock.messageRequests).toHaveLength(0);
    expect(bedrock.assumeRoleCalls.at(-1)).toMatchObject({
      roleArn: OTHER_ROLE,
      externalId: h.ws.workspaceId,
      issuedAccessKeyId: undefined,
    });
  });

  it("Vertex AI with the workspace’s service account: the run is reviewed through Vertex", async () => {
    await h.storeModelCredential(
      {
        provider: "vertex",
        projectId: "acme-ml",
        region: "europe-west1",
        serviceAccountJson: JSON.stringify(SERVICE_ACCOUNT),
      },
      "sa-1",
    );
    vertex.reset(script());
    const { p, runId, outcome } = await runNewPr();
    expect(outcome).toEqual({ status: "succeeded", error_code: null });
    expect(vertex.messageRequests).toHaveLength(2);
    expect(h.gh.sandbox.reviews("acme", "shop", p.number)).toHaveLength(1);
    const logs = await h.admin<
      { meta: Record<string, unknown> }[]
    >`select meta from agent_run_events where run_id = ${runId}`;
    expect(JSON.stringify(logs)).not.toContain("PRIVATE KEY");
  });
});
