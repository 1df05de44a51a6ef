/**
 * The run's input for a replay, rebuilt from what the audit event kept under the workspace's redaction policy and what
 * the run row still holds — each field checked against the record:
 *  - a field the record kept (plain value): used; if the run row holds it too, the two must agree;
 *  - a field the record hashed or dropped (`{"$sha256"|"$dropped": digest}`): taken from the run row when it still
 *    holds it and its digest matches; otherwise named — CHANGED (another digest) or unavailable (not on the row);
 *  - a record with `payload_sha256` (a Skill run on a producer's payload, sealed and purged at run end): the payload is
 *    rebuilt from the fields the record kept; each payload field the Skill declares and the record did not keep is
 *    named ("purged at run end"), and the rebuilt payload must hash to `payload_sha256` before it is replayed;
 *  - any other field is one the Skill derived during the run (pr-review's `.praxa.yaml` digest): compared after the
 *    replay with what the replay derives.
 * Pure: no I/O.
 */
import { createHash } from "node:crypto";
import {
  canonicalJson,
  redactedFieldDigest,
  RESERVED_INPUT_FIELDS,
  type JsonValue,
  type ReplayInputCheck,
} from "@praxa/core";

type Json = JsonValue;

/** A field the redaction policy replaced by its digest: `{"$sha256": h}` (hash) or `{"$dropped": h}` (drop). */
export function redactionMarker(value: unknown): { action: "hash" | "drop"; digest: string } | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== 1) return null;
  const digest = (value as Record<string, unknown>)[keys[0] ?? ""];
  if (typeof digest !== "string" || !/^[0-9a-f]{64}$/.test(digest)) return null;
  if (keys[0] === "$sha256") return { action: "hash", digest };
  if (keys[0] === "$dropped") return { action: "drop", digest };
  return null;
}

/** SHA-256 (hex) of a value's canonical JSON — the digest the record's `payload_sha256` is. */
export function sha256OfJson(value: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(value ?? null), "utf8")
    .digest("hex");
}

const short = (h: string | null): string => (h === null ? "-" : `${h.slice(0, 12)}…`);

export interface RebuiltInput {
  /** The input the replay runs on (null: an input it needs is unavailable, so it does not run). */
  readonly input: Record<string, unknown> | null;
  readonly checks: ReplayInputCheck[];
  /** Record fields to compare with what the replay derives (not on the run row, not part of a payload). */
  readonly derived: readonly string[];
}

export function rebuildRunInput(
  recordInput: Readonly<Record<string, Json>>,
  runInput: Readonly<Record<string, unknown>>,
  payloadFields: readonly string[] | undefined,
): RebuiltInput {
  const checks: ReplayInputCheck[] = [];
  const derived: string[] = [];
  const input: Record<string, unknown> = { ...runInput };
  const payloadHash = typeof recordInput["payload_sha256"] === "string" ? recordInput["payload_sha256"] : null;
  const payload: Record<string, unknown> = {};
  let missing = false;

  for (const [name, recorded] of Object.entries(recordInput)) {
    if (payloadHash !== null && name === "payload_sha256") continue;
    // What a declarative Skill's runtime adds beside the payload (the event's type and delivery id, from the run row):
    // derived again by the replay and compared after it, never part of the payload.
    if (payloadHash !== null && (RESERVED_INPUT_FIELDS as readonly string[]).includes(name)) {
      derived.push(name);
      continue;
    }
    const marker = redactionMarker(recorded);
    const onRow = Object.hasOwn(runInput, name);
    if (marker) {
      const how = marker.action === "hash" ? "hashed" : "dropped";
      if (onRow) {
        const now = redactedFieldDigest((runInput[name] ?? null) as Json);
        const same = now === marker.digest;
        checks.push({
          name,
          source: "run_row",
          status: same ? "matches" : "changed",
          recordedHash: marker.digest,
          currentHash: now,
          note: same
            ? `input field \`${name}\` (${how} in the record): the run row's value matches the recorded hash ${short(marker.digest)}`
            : `input field \`${name}\` (${how} in the record): CHANGED — recorded ${short(marker.digest)}, the run row now ${short(now)}`,
        });
        if (payloadHash !== null) payload[name] = runInput[name];
      } else if (payloadHash !== null) {
        missing = true;
        checks.push({
          name,
          source: "payload",
          status: "unavailable",
          recordedHash: marker.digest,
          currentHash: null,
          note: `payload field \`${name}\`: purged at run end (${how} in the record); recorded hash ${short(marker.digest)}`,
        });
      } else derived.push(name);
      continue;
    }
    if (onRow) {
      // An object the Skill records may be a projection of the row's (compared after the replay instead).
      const comparable = recorded === null || typeof recorded !== "object";
      const same = canonicalJson(recorded) === canonicalJson((runInput[name] ?? null) as Json);
      if (!comparable && !same) derived.push(name);
      else
        checks.push({
          name,
          source: "run_row",
          status: same ? "matches" : "changed",
          recordedHash: sha256OfJson(recorded),
          currentHash: sha256OfJson(runInput[name]),
          note: same
            ? `input field \`${name}\`: the run row matches the record`
            : `input field \`${name}\`: CHANGED — the run row no longer holds the recorded value`,
        });
      // The signed record is the truth for what it kept.
      if (comparable) input[name] = recorded;
      if (payloadHash !== null) payload[name] = recorded;
      continue;
    }
    if (payloadHash !== null) {
      payload[name] = recorded;
      input[name] = recorded;
      checks.push({
        name,
        source: "record",
        status: "matches",
        recordedHash: sha256OfJson(recorded),
        currentHash: sha256OfJson(recorded),
        note: `payload field \`${name}\`: kept in the record`,
      });
      continue;
    }
    derived.push(name);
  }

  if (payloadHash !== null) {
    for (const field of payloadFields ?? []) {
      if (Object.hasOwn(recordInput, field) || Object.hasOwn(runInput, field)) continue;
      missing = true;
      checks.push({
        name: field,
        source: "payload",
        status: "unavailable",
        recordedHash: null,
        currentHash: null,
        note: `payload field \`${field}\`: purged at run end and not kept by the audit event (the Skill's declaration keeps only some fields)`,
      });
    }
    if (!missing) {
      const now = sha256OfJson(payload);
      const same = now === payloadHash;
      checks.push({
        name: "payload",
        source: "payload",
        status: same ? "matches" : "unavailable",
        recordedHash: payloadHash,
        currentHash: now,
        note: same
          ? `payload: rebuilt from the kept fields, matches the recorded payload_sha256 ${short(payloadHash)}`
          : `payload: the kept fields do not rebuild the recorded payload_sha256 ${short(payloadHash)} (now ${short(now)}) — fields the audit event did not keep were purged at run end`,
      });
      if (!same) missing = true;
    }
  }
  // A declarative Skill reads its payload under `payload` (as the worker hands it the opened, sealed one).
  if (payloadHash !== null && !missing) input["payload"] = payload;
  return { input: missing ? null : input, checks, derived };
}

/** After the replay: a derived field of the record against what the replay derived (by value, or by digest). */
export function checkDerivedField(name: string, recorded: Json, replayed: Json | undefined): ReplayInputCheck {
  const marker = redactionMarker(recorded);
  const recordedHash = marker ? marker.digest : sha256OfJson(recorded);
  const currentHash = replayed === undefined ? null : marker ? redactedFieldDigest(replayed) : sha256OfJson(replayed);
  const same = currentHash !== null && currentHash === recordedHash;
  return {
    name,
    source: "derived",
    status: same ? "matches" : currentHash === null ? "unavailable" : "changed",
    recordedHash,
    currentHash,
    note: same
      ? `\`${name}\` (derived during the run): the replay derives the recorded value`
      : currentHash === null
        ? `\`${name}\` (derived during the run): the replay did not derive it`
        : `\`${name}\` (derived during the run): CHANGED since the decision — recorded ${short(recordedHash)}, now ${short(currentHash)} (e.g. the repository’s .praxa.yaml)`,
  };
}
