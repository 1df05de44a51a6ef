/**
 * Operator verbs for a workspace's data lifecycle (issue #22):
 *   `praxa workspace erase --workspace <id> [--now]` — request its erasure (as praxa_owner, DATABASE_URL); the monitor
 *     executes it after the grace period (72 hours). `--now` skips the grace period and executes it here, as the monitor
 *     would: a final signed checkpoint, the objects under ws/<id>/, every row, secret and key, then the signed receipt.
 *   `praxa workspace erasure-receipt --id <uuid>` — print a stored receipt (JSON) for the customer.
 *   `praxa workspace erasure-receipt --file <receipt.json> --keys <keys.json>` — verify one offline.
 *   `praxa workspace redact-person --workspace <id> --subject <login>` — erase a person inside a workspace.
 *   `praxa workspace export --workspace <id>` — request an export and write it now, as the monitor's exports pass
 *     would: `data.json` and `audit.jsonl` under `ws/<id>/exports/<export id>/` in the object store.
 */
import { readFileSync } from "node:fs";
import {
  parseId,
  PinnedKeysSchema,
  ValidationError,
  verifyErasureReceipt,
  type ErasureReceipt,
  type ErasureReceiptVerification,
} from "@praxa/core";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { LocalKeyProvider } from "@praxa/crypto";
import {
  createDatabase,
  erasuresDue,
  executeErasure,
  readErasureReceipt,
  redactPerson,
  registerAuditKey,
  requestErasureAsOperator,
  requestExportAsOperator,
  runOneExport,
  type PersonRedaction,
} from "@praxa/db";
import { createObjectStore, parseObjectStoreSettings } from "@praxa/object-store";
import { withLocalDefaults } from "./local-env.js";

/** The grace period of an operator's request without --now (the api's owners choose 0–72 hours). */
const OPERATOR_GRACE_HOURS = 72;

export interface EraseResult {
  readonly erasureId: string;
  /** `requested`: the monitor executes it after the grace period; `erased`: done here (--now), with its receipt. */
  readonly status: "requested" | "erased";
  readonly receipt?: ErasureReceipt;
}

export async function eraseWorkspace(
  env: ConfigSource,
  workspace: string,
  options: { readonly now?: boolean } = {},
): Promise<EraseResult> {
  const workspaceId = parseId("workspace", workspace);
  const localEnv = withLocalDefaults(env);
  const admin = await bootConfig("migrate", { env: localEnv, envFile: ".env" });
  const adminDb = createDatabase(admin.DATABASE_URL, { max: 1, applicationName: "praxa-workspace-erase" });
  let erasureId: string;
  try {
    erasureId = await requestErasureAsOperator(adminDb, workspaceId, options.now ? 0 : OPERATOR_GRACE_HOURS);
  } finally {
    await adminDb.close();
  }
  if (!options.now) return { erasureId, status: "requested" };

  const cfg = await bootConfig("monitor", { env: localEnv, envFile: ".env" });
  if (cfg.PRAXA_KEY_PROVIDER !== "local")
    throw new ValidationError(
      "--now signs the receipt with the local key provider; in production the monitor executes erasures (drop --now)",
    );
  const provider = await LocalKeyProvider.open({ path: cfg.PRAXA_KEY_FILE, create: cfg.NODE_ENV !== "production" });
  const pub = await provider.publicKey();
  const objects = await createObjectStore(parseObjectStoreSettings(localEnv as Record<string, string | undefined>));
  const db = createDatabase(cfg.MONITOR_DATABASE_URL, { max: 1, applicationName: "praxa-workspace-erase" });
  try {
    await registerAuditKey(db, {
      keyId: pub.keyId,
      purpose: "checkpoint",
      algorithm: pub.algorithm,
      spki: Buffer.from(pub.spki),
    });
    const due = (await erasuresDue(db, 100)).find((d) => d.id === erasureId);
    if (!due) throw new ValidationError("the erasure is not due (cancelled, or already receipted)");
    const receipt = await executeErasure(
      {
        database: db,
        signer: { keyId: pub.keyId, sign: (m) => provider.sign(m) },
        eraseObjects: (ws) => {
          const store = objects.forWorkspace({ workspaceId: ws });
          return store.deletePrefix(store.prefix);
        },
      },
      due,
    );
    return { erasureId, status: "erased", receipt };
  } finally {
    await db.close();
  }
}

export async function printErasureReceipt(env: ConfigSource, id: string): Promise<ErasureReceipt> {
  const cfg = await bootConfig("api", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: "praxa-erasure-receipt" });
  try {
    const receipt = await readErasureReceipt(db, id);
    if (!receipt) throw new ValidationError("no receipt under this erasure id (not erased yet, or unknown)");
    return receipt;
  } finally {
    await db.close();
  }
}

/** Offline: the receipt's signature under the pinned keys; with a kept checkpoint line, its final root against it. */
export function verifyErasureReceiptFile(
  file: string,
  keysFile: string,
  trustedFile?: string,
): ErasureReceiptVerification {
  const pinned = PinnedKeysSchema.parse(JSON.parse(readFileSync(keysFile, "utf8")));
  const trusted = trustedFile
    ? (JSON.parse(readFileSync(trustedFile, "utf8")) as { workspace_id: string; tree_size: number; root_hash: string })
    : undefined;
  return verifyErasureReceipt(JSON.parse(readFileSync(file, "utf8")) as unknown, pinned, trusted);
}

export async function redactPersonInWorkspace(
  env: ConfigSource,
  workspace: string,
  subject: string,
): Promise<PersonRedaction> {
  const workspaceId = parseId("workspace", workspace);
  const cfg = await bootConfig("migrate", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: "praxa-redact-person" });
  try {
    return await redactPerson(db, workspaceId, subject);
  } finally {
    await db.close();
  }
}

export async function exportWorkspace(
  env: ConfigSource,
  workspace: string,
): Promise<{ exportId: string; objects: string[] }> {
  const workspaceId = parseId("workspace", workspace);
  const localEnv = withLocalDefaults(env);
  const admin = await bootConfig("migrate", { env: localEnv, envFile: ".env" });
  const adminDb = createDatabase(admin.DATABASE_URL, { max: 1, applicationName: "praxa-workspace-export" });
  let exportId: string;
  try {
    exportId = await requestExportAsOperator(adminDb, workspaceId);
  } finally {
    await adminDb.close();
  }
  const cfg = await bootConfig("monitor", { env: localEnv, envFile: ".env" });
  const objects = await createObjectStore(parseObjectStoreSettings(localEnv as Record<string, string | undefined>));
  const db = createDatabase(cfg.MONITOR_DATABASE_URL, { max: 1, applicationName: "praxa-workspace-export" });
  const written: string[] = [];
  try {
    // Older pending exports go first (the claim takes the oldest): run until this one is written.
    for (;;) {
      const id = await runOneExport({
        database: db,
        put: async (ws, xid, name, body, contentType) => {
          const store = objects.forWorkspace({ workspaceId: ws });
          const key = store.key("exports", xid, name);
          await store.put(key, body, { contentType });
          if (xid === exportId) written.push(key);
          return key;
        },
      });
      if (id === null || id === exportId) break;
    }
  } finally {
    await db.close();
  }
  return { exportId, objects: written };
}
