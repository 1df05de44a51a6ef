import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openCredential, sealCredential } from "./credential-seal.js";
import { DecryptFailedError, KeyRotationRequiredError, KeyShreddedError } from "./errors.js";
import { LocalKeyProvider } from "./local-key-provider.js";
import { createTenantKey, openTenantKey, type TenantKey } from "./tenant-key.js";
import { wrappedBlobKeyId } from "./wrapped-blob.js";
import {
  createWorkspaceKey,
  openWorkspaceKey,
  rewrapWorkspaceKey,
  shredWorkspaceKey,
  workspacePublicKey,
} from "./workspace-key.js";

const TENANT = "tn_01jtenant";
const WS = "ws_01jworkspace";
const cred = { workspaceId: WS, provider: "anthropic", purpose: "api_key" } as const;

let dir: string;
let provider: LocalKeyProvider;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "praxa-crypto-ws-"));
  provider = await LocalKeyProvider.open({ path: join(dir, "keys.json") });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the key hierarchy: provider key → tenant data key → workspace key → credentials", () => {
  it("seals with the stored public key only; a worker that unwraps tenant and workspace keys opens it", async () => {
    const tenantKey = await createTenantKey(provider, TENANT);
    const record = await createWorkspaceKey(tenantKey, WS);
    const tenantRecord = tenantKey.toRecord();
    expect(tenantRecord.uses).toBe(1);

    // The api: public data only — no provider, no tenant key.
    const sealed = await sealCredential(workspacePublicKey(record), cred, "sk-live-credential");

    // A worker: from stored records, through the provider.
    const reopenedTenant = await openTenantKey(provider, tenantRecord);
    const privateKey = await openWorkspaceKey(reopenedTenant, record);
    expect(Buffer.from(await openCredential(privateKey, cred, sealed)).toString()).toBe("sk-live-credential");
  });

  it("the wrapped private key is bound to tenant and workspace: a record moved elsewhere does not open", async () => {
    const tenantKey = await createTenantKey(provider, TENANT);
    const record = await createWorkspaceKey(tenantKey, WS);
    await expect(openWorkspaceKey(tenantKey, { ...record, workspaceId: "ws_01jelsewhere" })).rejects.toThrow(
      DecryptFailedError,
    );
    await expect(openWorkspaceKey(tenantKey, { ...record, keyId: "wsk_renamed" })).rejects.toThrow(DecryptFailedError);
    // Another tenant's key cannot open it, and the record cannot be relabelled to that tenant.
    const otherTenant = await createTenantKey(provider, "tn_01jother");
    await expect(openWorkspaceKey(otherTenant, record)).rejects.toThrow(DecryptFailedError);
    await expect(openWorkspaceKey(otherTenant, { ...record, tenantId: "tn_01jother" })).rejects.toThrow(
      DecryptFailedError,
    );
    // A public key swapped in the record (to redirect sealing) breaks the binding too.
    const decoy = await createWorkspaceKey(tenantKey, WS);
    await expect(openWorkspaceKey(tenantKey, { ...record, publicKey: decoy.publicKey })).rejects.toThrow(
      DecryptFailedError,
    );
  });

  it("the tenant data key is bound to its context at the provider: relabelled to another tenant, it does not open", async () => {
    const tenantKey = await createTenantKey(provider, TENANT);
    await expect(openTenantKey(provider, { ...tenantKey.toRecord(), tenantId: "tn_01jother" })).rejects.toThrow(
      DecryptFailedError,
    );
    await expect(openTenantKey(provider, { ...tenantKey.toRecord(), keyId: "tdk_other" })).rejects.toThrow(
      DecryptFailedError,
    );
  });

  it("shredding the workspace key makes every credential sealed to it unrecoverable", async () => {
    const tenantKey = await createTenantKey(provider, TENANT);
    const record = await createWorkspaceKey(tenantKey, WS);
    const sealed = await Promise.all(
      ["anthropic", "bedrock", "vertex"].map((p) =>
        sealCredential(workspacePublicKey(record), { ...cred, provider: p }, `secret for ${p}`),
      ),
    );
    const wrapped = record.wrappedPrivateKey;
    const shredded = shredWorkspaceKey(record);
    expect(shredded.wrappedPrivateKey).toBeNull();
    expect(wrapped?.every((b) => b === 0)).toBe(true); // the bytes handed in are zeroed too
    await expect(openWorkspaceKey(tenantKey, shredded)).rejects.toThrow(KeyShreddedError);
    await expect(openWorkspaceKey(tenantKey, record)).rejects.toThrow(); // the zeroed copy is no longer a wrap
    // Neither the tenant key nor the provider holds anything else: a new key for the same workspace opens nothing.
    const replacement = await openWorkspaceKey(
      tenantKey,
      await createWorkspaceKey(tenantKey, WS, { keyId: record.keyId }),
    );
    for (const [i, p] of ["anthropic", "bedrock", "vertex"].entries()) {
      await expect(
        openCredential(replacement, { ...cred, provider: p }, sealed[i] ?? new Uint8Array()),
      ).rejects.toThrow(DecryptFailedError);
    }
  });

  it("tenant key rotation: at its use limit it demands rotation; rewrapped workspace keys keep opening old credentials", async () => {
    const oldTenant = await createTenantKey(provider, TENANT, { usageLimit: 2 });
    const records = [await createWorkspaceKey(oldTenant, WS), await createWorkspaceKey(oldTenant, "ws_01jsecond")];
    await expect(createWorkspaceKey(oldTenant, "ws_01jthird")).rejects.toThrow(KeyRotationRequiredError);
    const sealed = await sealCredential(workspacePublicKey(records[0]!), cred, "survives rotation");

    const newTenant: TenantKey = await createTenantKey(provider, TENANT, { usageLimit: 2 });
    const rewrapped = records.map((r) => rewrapWorkspaceKey(r, oldTenant, newTenant));
    expect(rewrapped.map((r) => wrappedBlobKeyId(r.wrappedPrivateKey!))).toEqual([newTenant.keyId, newTenant.keyId]);
    expect(rewrapped[0]!.publicKey).toEqual(records[0]!.publicKey);
    const privateKey = await openWorkspaceKey(newTenant, rewrapped[0]!);
    expect(Buffer.from(await openCredential(privateKey, cred, sealed)).toString()).toBe("survives rotation");
    // The old tenant key can no longer open the rewrapped record.
    await expect(openWorkspaceKey(oldTenant, rewrapped[0]!)).rejects.toThrow(DecryptFailedError);
    // A stored use count carries over when the tenant key is reopened.
    const reopened = await openTenantKey(provider, newTenant.toRecord(), { usageLimit: 2 });
    expect(reopened.uses).toBe(2);
    await expect(createWorkspaceKey(reopened, "ws_01jfourth")).rejects.toThrow(KeyRotationRequiredError);
  });
});
