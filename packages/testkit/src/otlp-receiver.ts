/**
 * A loopback OTLP/HTTP trace receiver: `POST /v1/traces` with an `ExportTraceServiceRequest`, as OTLP/JSON
 * (`application/json`, what `@opentelemetry/exporter-trace-otlp-http` sends) or OTLP/protobuf
 * (`application/x-protobuf`), answered `200` with an empty `ExportTraceServiceResponse`. Tests read the spans it decoded
 * and the raw bytes of every export (to assert that something is absent from all of them).
 *
 * The protobuf side decodes only what the trace request holds (opentelemetry-proto `trace/v1/trace.proto`,
 * `common/v1/common.proto`): resource attributes, spans with their ids, name, kind, times, attributes, event and link
 * counts and status code. Field numbers are the proto's.
 */
import { z } from "zod";
import { startLoopbackServer, type LoopbackServer, type RecordedRequest } from "./loopback-server.js";

export type AttributeValue = string | number | boolean | null;

export interface ReceivedSpan {
  /** The resource's `service.name`. */
  readonly service: string;
  readonly name: string;
  /** Lowercase hex, 32 characters. */
  readonly traceId: string;
  /** Lowercase hex, 16 characters. */
  readonly spanId: string;
  /** Null for a root span. */
  readonly parentSpanId: string | null;
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly events: number;
  readonly links: number;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage: string;
}

export interface OtlpReceiver {
  /** Base URL: point `OTEL_EXPORTER_OTLP_ENDPOINT` at it. */
  readonly url: string;
  /** Every span received so far, in arrival order. */
  spans(): ReceivedSpan[];
  /** The raw body of every export received so far. */
  bodies(): Buffer[];
  close(): Promise<void>;
}

// ── OTLP/JSON ──────────────────────────────────────────────────────────────────────────────────────────────────────

const JsonAnyValue: z.ZodType<unknown> = z.object({
  stringValue: z.string().optional(),
  boolValue: z.boolean().optional(),
  intValue: z.union([z.string(), z.number()]).optional(),
  doubleValue: z.number().optional(),
  arrayValue: z.unknown().optional(),
  kvlistValue: z.unknown().optional(),
  bytesValue: z.string().optional(),
});
const JsonKeyValue = z.object({ key: z.string(), value: JsonAnyValue.optional() });
const JsonSpan = z.object({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().optional(),
  name: z.string(),
  kind: z.number().int().optional(),
  startTimeUnixNano: z.union([z.string(), z.number()]),
  endTimeUnixNano: z.union([z.string(), z.number()]),
  attributes: z.array(JsonKeyValue).optional(),
  events: z.array(z.unknown()).optional(),
  links: z.array(z.unknown()).optional(),
  status: z.object({ code: z.number().int().optional(), message: z.string().optional() }).optional(),
});
const JsonRequest = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource: z.object({ attributes: z.array(JsonKeyValue).optional() }).optional(),
        scopeSpans: z.array(z.object({ spans: z.array(JsonSpan).optional() })).optional(),
      }),
    )
    .optional(),
});

function jsonValue(v: unknown): AttributeValue {
  const o = (v ?? {}) as {
    stringValue?: string;
    boolValue?: boolean;
    intValue?: string | number;
    doubleValue?: number;
  };
  if (o.stringValue !== undefined) return o.stringValue;
  if (o.boolValue !== undefined) return o.boolValue;
  if (o.intValue !== undefined) return Number(o.intValue);
  if (o.doubleValue !== undefined) return o.doubleValue;
  return null;
}

/** OTLP/JSON ids are hex (the OTLP spec); an exporter configured otherwise may send base64 — accept both. */
function jsonId(id: string | undefined, bytes: number): string | null {
  if (!id) return null;
  const hex = new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(id)
    ? id.toLowerCase()
    : Buffer.from(id, "base64").toString("hex");
  return /^0+$/.test(hex) ? null : hex;
}

export function decodeOtlpJson(body: Buffer): ReceivedSpan[] {
  const req = JsonRequest.parse(JSON.parse(body.toString("utf8")));
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = Object.fromEntries((rs.resource?.attributes ?? []).map((a) => [a.key, jsonValue(a.value)]));
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({
          service: String(resource["service.name"] ?? ""),
          name: s.name,
          traceId: jsonId(s.traceId, 16) ?? "",
          spanId: jsonId(s.spanId, 8) ?? "",
          parentSpanId: jsonId(s.parentSpanId, 8),
          kind: s.kind ?? 0,
          startTimeUnixNano: BigInt(s.startTimeUnixNano),
          endTimeUnixNano: BigInt(s.endTimeUnixNano),
          attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, jsonValue(a.value)])),
          events: s.events?.length ?? 0,
          links: s.links?.length ?? 0,
          statusCode: s.status?.code ?? 0,
          statusMessage: s.status?.message ?? "",
        });
  }
  return out;
}

// ── OTLP/protobuf ──────────────────────────────────────────────────────────────────────────────────────────────────

type Field = { readonly no: number; readonly wire: number; readonly varint: bigint; readonly bytes: Buffer };

/** The fields of one protobuf message, in order (varint, 64-bit, length-delimited and 32-bit wire types). */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= buf.length) throw new Error("truncated varint");
      const b = buf[at++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, varint: varint(), bytes: Buffer.alloc(0) });
    else if (wire === 1) {
      out.push({ no, wire, varint: buf.readBigUInt64LE(at), bytes: buf.subarray(at, at + 8) });
      at += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      if (at + len > buf.length) throw new Error("truncated field");
      out.push({ no, wire, varint: 0n, bytes: buf.subarray(at, at + len) });
      at += len;
    } else if (wire === 5) {
      out.push({ no, wire, varint: BigInt(buf.readUInt32LE(at)), bytes: buf.subarray(at, at + 4) });
      at += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

function protoValue(buf: Buffer): AttributeValue {
  for (const f of fields(buf)) {
    if (f.no === 1) return f.bytes.toString("utf8");
    if (f.no === 2) return f.varint !== 0n;
    if (f.no === 3) return Number(BigInt.asIntN(64, f.varint));
    if (f.no === 4) return f.bytes.readDoubleLE(0);
  }
  return null;
}

function protoAttributes(list: readonly Field[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list) {
    const parts = fields(kv.bytes);
    const key = parts.find((p) => p.no === 1)?.bytes.toString("utf8") ?? "";
    const value = parts.find((p) => p.no === 2);
    out[key] = value ? protoValue(value.bytes) : null;
  }
  return out;
}

export function decodeOtlpProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of fields(body).filter((f) => f.no === 1)) {
    const rsFields = fields(rs.bytes);
    const resource = rsFields.find((f) => f.no === 1);
    const resourceAttrs = resource ? protoAttributes(fields(resource.bytes).filter((f) => f.no === 1)) : {};
    for (const ss of rsFields.filter((f) => f.no === 2))
      for (const sp of fields(ss.bytes).filter((f) => f.no === 2)) {
        const s = fields(sp.bytes);
        const one = (no: number) => s.find((f) => f.no === no);
        const parent = one(4)?.bytes.toString("hex") ?? "";
        const status = one(15) ? fields((one(15) as Field).bytes) : [];
        out.push({
          service: String(resourceAttrs["service.name"] ?? ""),
          name: one(5)?.bytes.toString("utf8") ?? "",
          traceId: one(1)?.bytes.toString("hex") ?? "",
          spanId: one(2)?.bytes.toString("hex") ?? "",
          parentSpanId: parent === "" || /^0+$/.test(parent) ? null : parent,
          kind: Number(one(6)?.varint ?? 0n),
          startTimeUnixNano: one(7)?.varint ?? 0n,
          endTimeUnixNano: one(8)?.varint ?? 0n,
          attributes: protoAttributes(s.filter((f) => f.no === 9)),
          events: s.filter((f) => f.no === 11).length,
          links: s.filter((f) => f.no === 13).length,
          statusCode: Number(status.find((f) => f.no === 3)?.varint ?? 0n),
          statusMessage: status.find((f) => f.no === 2)?.bytes.toString("utf8") ?? "",
        });
      }
  }
  return out;
}

// ── the receiver ───────────────────────────────────────────────────────────────────────────────────────────────────

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  const bodies: Buffer[] = [];
  const server: LoopbackServer = await startLoopbackServer((req: RecordedRequest, res) => {
    if (req.method !== "POST" || req.path.split("?")[0] !== "/v1/traces") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"message":"not found"}');
      return;
    }
    bodies.push(req.body);
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim();
    try {
      if (type === "application/x-protobuf") {
        received.push(...decodeOtlpProtobuf(req.body));
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      } else if (type === "application/json") {
        received.push(...decodeOtlpJson(req.body));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } else res.writeHead(415, { "content-type": "application/json" }).end('{"message":"unsupported media type"}');
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end('{"message":"malformed export"}');
    }
  });
  return {
    url: server.url,
    spans: () => [...received],
    bodies: () => [...bodies],
    close: () => server.close(),
  };
}
