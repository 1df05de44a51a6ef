/**
 * The workspace's audit log:
 *  - `GET /v1/audit/events` — events in seq order as they were hashed (each parsed from its stored canonical bytes,
 *    with its hash and signature), filtered by Skill, run, trigger and time; `after` (the last seq) pages.
 *  - `GET /v1/audit/export` — the `praxa-audit-export/v1` JSON Lines stream, exactly what `praxa audit export`
 *    writes (core's audit-export.ts): a header, a `leaf` line per event from seq 1, the `event` lines of the range
 *    with their exact canonical bytes, the `checkpoint` lines and the `key` lines — everything an offline verifier
 *    needs with the keys the customer pinned (`praxa audit verify --file … --keys …`).
 *  - `GET /v1/audit/keys` — the public keys that verify events and checkpoints (what a SIEM receiver pins).
 *  - `GET|PUT /v1/audit/redaction-policy` — what the audit log keeps of inputs and outputs (admins change it; audited).
 * `GET /v1/audit/verify` is audit-verify.ts.
 */
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  auditExportLines,
  exportKeyLine,
  parseRedactionPolicy,
  RedactionPolicySchema,
  RunIdSchema,
  SkillIdSchema,
} from "@praxa/core";
import {
  and,
  eq,
  gt,
  gte,
  lt,
  readAuditKeyset,
  readAuditLeaves,
  readAuditRange,
  readCheckpoints,
  readRetentionCuts,
  schema,
  sql,
  type AuditSigner,
  type Database,
} from "@praxa/db";
import { changeRedactionPolicy } from "../redaction-policy.js";
import { route, StreamAnswer } from "../route-builder.js";

const TriggerName = z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/);

/** The export's lines as a caller reads them (core's ExportHeaderLine … KeyLine, every byte field base64). */
const AuditExportLine = z
  .discriminatedUnion("type", [
    z
      .object({
        type: z.literal("export"),
        format: z.literal("praxa-audit-export/v1"),
        workspace_id: z.string(),
        exported_at: z.string(),
        from: z.string().nullable(),
        to: z.string().nullable(),
      })
      .strict(),
    z.object({ type: z.literal("leaf"), seq: z.number().int().min(1), hash: z.string() }).strict(),
    z
      .object({
        type: z.literal("event"),
        seq: z.number().int().min(1),
        workspace_id: z.string(),
        prev_hash: z.string(),
        hash: z.string(),
        key_id: z.string(),
        signature: z.string(),
        canonical: z.string().meta({ description: "base64 of the exact canonical bytes" }),
      })
      .strict(),
    z
      .object({
        type: z.literal("checkpoint"),
        workspace_id: z.string(),
        tree_size: z.number().int().min(1),
        root_hash: z.string(),
        timestamp: z.string(),
        key_id: z.string(),
        signature: z.string(),
        body: z.string(),
      })
      .strict(),
    z
      .object({
        type: z.literal("key"),
        key_id: z.string(),
        purpose: z.enum(["event", "checkpoint"]),
        algorithm: z.enum(["ed25519", "ecdsa-p256-sha256"]),
        public_key_pem: z.string(),
      })
      .strict(),
    z
      .object({
        type: z.literal("retention"),
        through_seq: z.number().int().min(1),
        cut_at: z.string(),
      })
      .strict()
      .meta({ description: "Events 1..through_seq were removed by retention on cut_at (their leaf lines stay)" }),
  ])
  .meta({ description: "One line of a praxa-audit-export/v1 JSON Lines stream" });

const Policy = RedactionPolicySchema;

/**
 * An event as it was hashed: the `audit_event · v1` record parsed from its stored canonical bytes (core's
 * StoredAuditEventSchema describes its fields), plus the chain seal. Served as stored — a row that does not fit the
 * record schema is still shown (the verifier, not the listing, judges it), so the record's other fields pass through.
 */
const AuditEventView = z
  .looseObject({
    seq: z.number().int(),
    hash: z.string(),
    signature: z.string(),
    prev_hash: z.string().optional(),
    workspace_id: z.string().optional(),
    key_id: z.string().optional(),
    auditEventId: z.string().optional(),
    kind: z.string().optional(),
    skillId: z.string().nullable().optional(),
    runId: z.string().nullable().optional(),
    trigger: z.string().optional(),
    occurred_at: z.string().optional(),
  })
  .meta({ description: "The stored audit_event·v1 record (see the audit log format) with its hash and signature" });

export function registerAuditRoutes(app: FastifyInstance, db: Database, auditSigner: AuditSigner | undefined): void {
  route(app, db, {
    method: "GET",
    url: "/v1/audit/events",
    tag: "audit",
    summary: "Audit events in seq order",
    operationId: "listAuditEvents",
    query: z
      .object({
        skill: SkillIdSchema.optional(),
        run: RunIdSchema.optional(),
        trigger: TriggerName.optional(),
        from: z.iso.datetime().optional(),
        to: z.iso.datetime().optional(),
        after: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      })
      .strict(),
    response: z.object({ events: z.array(AuditEventView), next: z.number().int().nullable() }).strict(),
    handler: async ({ scope, query }) => {
      const e = schema.auditEvents;
      const occurred =
        query.from || query.to
          ? and(
              query.from ? gte(e.occurredAt, new Date(query.from)) : undefined,
              query.to ? lt(e.occurredAt, new Date(query.to)) : undefined,
            )
          : undefined;
      // Pages are in seq order, but Postgres cannot know that seq and occurred_at rise together: for a time range it
      // would walk the chain from the cursor past everything before the range. The range's least and greatest seq,
      // read from the time index alone (OFFSET 0 keeps them from being planned as a walk of the chain too), bound the
      // walk to the range — each page costs the range, never the chain (plans in docs/operations.md).
      const seqOfRange = occurred ? sql`(select ${e.seq} as seq from ${e} where ${occurred} offset 0) r` : undefined;
      const rows = await scope.db
        .select({
          seq: e.seq,
          hash: e.hash,
          prevHash: e.prevHash,
          keyId: e.keyId,
          signature: e.signature,
          canonical: e.canonical,
        })
        .from(e)
        .where(
          and(
            gt(e.seq, query.after),
            query.skill ? eq(e.skillId, query.skill) : undefined,
            query.run ? eq(e.runId, query.run) : undefined,
            query.trigger ? eq(e.trigger, query.trigger) : undefined,
            occurred,
            seqOfRange
              ? sql`${e.seq} between (select min(r.seq) from ${seqOfRange}) and (select max(r.seq) from ${seqOfRange})`
              : undefined,
          ),
        )
        .orderBy(e.seq)
        .limit(query.limit);
      return {
        // Each event as it was hashed: the record parsed from its stored canonical bytes, plus the chain seal.
        // A redacted event (a person's erasure) has no bytes left: its seq and seal, marked `redacted`.
        events: rows.map((r) => ({
          ...(r.canonical.length === 0
            ? { seq: r.seq, redacted: true }
            : (JSON.parse(r.canonical.toString("utf8")) as z.output<typeof AuditEventView>)),
          hash: r.hash,
          signature: r.signature,
        })),
        next: rows.length === query.limit ? (rows.at(-1)?.seq ?? null) : null,
      };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/audit/keys",
    tag: "audit",
    summary: "The public keys that verify audit events and checkpoints (pin them; a SIEM receiver verifies with them)",
    description:
      "Every key that has signed this platform's audit events (`purpose: event`, Ed25519) or checkpoints, as PEM: the same set `praxa audit keys` prints, the file `praxa audit verify --keys` reads.",
    operationId: "listAuditKeys",
    response: z
      .object({
        keys: z.array(
          z
            .object({
              key_id: z.string(),
              purpose: z.enum(["event", "checkpoint"]),
              algorithm: z.enum(["ed25519", "ecdsa-p256-sha256"]),
              public_key_pem: z.string(),
            })
            .strict(),
        ),
      })
      .strict(),
    handler: async () => ({
      keys: (await readAuditKeyset(db)).map((k) => {
        const line = JSON.parse(exportKeyLine(k)) as {
          key_id: string;
          purpose: "event" | "checkpoint";
          algorithm: "ed25519" | "ecdsa-p256-sha256";
          public_key_pem: string;
        };
        return {
          key_id: line.key_id,
          purpose: line.purpose,
          algorithm: line.algorithm,
          public_key_pem: line.public_key_pem,
        };
      }),
    }),
  });

  route(app, db, {
    method: "GET",
    url: "/v1/audit/export",
    tag: "audit",
    summary: "Export the audit log (JSON Lines) for offline verification",
    description:
      "A `praxa-audit-export/v1` stream, byte for byte what `praxa audit export` writes: the header, a `leaf` line for every event from seq 1, the `event` lines whose time is in [from, to), the `checkpoint` lines, after a retention cut a `retention` line (events up to it removed; their leaf lines stay), and the `key` lines. Verify it offline with `praxa audit verify --file export.jsonl --keys keys.json` against keys you pinned.",
    operationId: "exportAudit",
    query: z.object({ from: z.iso.datetime().optional(), to: z.iso.datetime().optional() }).strict(),
    response: AuditExportLine,
    content: { type: "application/x-ndjson", description: "One JSON object per line (JSON Lines)" },
    handler: async ({ scope, caller, query }) => {
      const from = query.from ? new Date(query.from) : null;
      const to = query.to ? new Date(query.to) : null;
      const keys = await readAuditKeyset(db);
      const cut = await readRetentionCuts(scope);
      const leaves = await readAuditLeaves(scope);
      const events = await readAuditRange(scope, from, to);
      const checkpoints = await readCheckpoints(scope);
      const exportedAt = new Date().toISOString();
      function* lines(): Generator<string> {
        for (const line of auditExportLines({
          header: { workspaceId: caller.workspaceId, exportedAt, from, to },
          removedLeaves: cut.leafHashes,
          cutAt: cut.cutAt,
          leaves,
          events,
          checkpoints,
          keys,
        }))
          yield line + "\n";
      }
      return new StreamAnswer("application/x-ndjson", Readable.from(lines()), {
        "content-disposition": `attachment; filename="audit-${caller.workspaceId}.jsonl"`,
      });
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/audit/redaction-policy",
    tag: "audit",
    summary: "The workspace's audit redaction policy",
    operationId: "getRedactionPolicy",
    response: z.object({ policy: Policy }).strict(),
    handler: async ({ scope, caller }) => {
      const [ws] = await scope.db
        .select({ policy: schema.workspaces.auditRedaction })
        .from(schema.workspaces)
        .where(eq(schema.workspaces.id, caller.workspaceId));
      return { policy: parseRedactionPolicy(ws?.policy ?? {}) };
    },
  });

  route(app, db, {
    method: "PUT",
    url: "/v1/audit/redaction-policy",
    tag: "audit",
    summary: "Change the audit redaction policy (audited)",
    operationId: "putRedactionPolicy",
    roles: ["owner", "admin"],
    body: RedactionPolicySchema,
    errors: ["UNAVAILABLE", "NOT_FOUND"],
    response: z.object({ policy: Policy, changed: z.boolean(), digest: z.string() }).strict(),
    handler: async ({ scope, caller, body }) => ({
      policy: body,
      ...(await changeRedactionPolicy(scope, caller, body, auditSigner)),
    }),
  });
}
