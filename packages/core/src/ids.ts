/**
 * TypeIDs: a short prefix naming the kind of thing, `_`, and a UUIDv7 in Crockford base32 (26 characters), as in the
 * product page's audit sample (`ae_01j…`). K-sortable by creation time, unambiguous in logs and URLs.
 */
import { TypeID } from "typeid-js";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { InvalidIdError } from "./errors.js";

export const ID_PREFIXES = {
  tenant: "tn",
  workspace: "ws",
  member: "mb",
  integration: "in",
  skill: "sk",
  skillVersion: "sv",
  run: "rn",
  step: "st",
  auditEvent: "ae",
  delivery: "dl",
  memoryFact: "mf",
  apiToken: "tk",
  credential: "cr",
  notification: "nt",
  notificationChannel: "nc",
  checkpoint: "cp",
  triggerSecret: "tw",
  auditReplay: "rp",
  approval: "ap",
  siemSubscription: "ss",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;
export type IdPrefix = (typeof ID_PREFIXES)[IdKind];
export type Id<K extends IdKind> = `${(typeof ID_PREFIXES)[K]}_${string}` & { readonly __kind?: K };

export type TenantId = Id<"tenant">;
export type WorkspaceId = Id<"workspace">;
export type MemberId = Id<"member">;
export type IntegrationId = Id<"integration">;
export type SkillId = Id<"skill">;
export type SkillVersionId = Id<"skillVersion">;
export type RunId = Id<"run">;
export type StepId = Id<"step">;
export type AuditEventId = Id<"auditEvent">;
export type AuditReplayId = Id<"auditReplay">;
export type DeliveryId = Id<"delivery">;
export type MemoryFactId = Id<"memoryFact">;
export type NotificationId = Id<"notification">;
export type NotificationChannelId = Id<"notificationChannel">;
export type ApprovalId = Id<"approval">;
export type SiemSubscriptionId = Id<"siemSubscription">;

/** The TypeID suffix alphabet: Crockford base32, lower case; the first character is 0-7 (128-bit bound). */
const SUFFIX = /^[0-7][0-9a-hjkmnp-tv-z]{25}$/;

/**
 * A new id of the given kind. `now` is the millisecond clock used for the UUIDv7 timestamp; pass one to stay
 * deterministic (tests, replays) — core reads no clock it is not handed, except this default.
 */
export function newId<K extends IdKind>(kind: K, now: number = Date.now()): Id<K> {
  const prefix = ID_PREFIXES[kind];
  return TypeID.fromUUID(prefix, uuidv7({ msecs: now })).toString() as Id<K>;
}

/**
 * Whether `value` is a well-formed TypeID of `kind`. The prefix and the suffix pattern are the whole of what
 * `TypeID.fromString` checks (prefix, 26 characters of the Crockford alphabet, first 0-7), without its cost: ids are
 * validated for every audit event sealed or verified.
 */
export function isId<K extends IdKind>(kind: K, value: unknown): value is Id<K> {
  if (typeof value !== "string") return false;
  const prefix = ID_PREFIXES[kind];
  return (
    value.length === prefix.length + 27 &&
    value.startsWith(prefix) &&
    value.charCodeAt(prefix.length) === 0x5f &&
    SUFFIX.test(value.slice(prefix.length + 1))
  );
}

/** Parse or throw `InvalidIdError`; the message names the expected kind, never echoes the input. */
export function parseId<K extends IdKind>(kind: K, value: unknown): Id<K> {
  if (!isId(kind, value)) throw new InvalidIdError(`expected a ${kind} id (${ID_PREFIXES[kind]}_…)`);
  return value;
}

/** The UUID behind a TypeID (for ordering or interop). */
export function idToUuid(value: Id<IdKind>): string {
  return TypeID.fromString(value).toUUID();
}

/** A zod schema accepting only TypeIDs of `kind`: a wrong prefix or a malformed suffix is rejected. */
export function idSchema<K extends IdKind>(kind: K): z.ZodType<Id<K>> {
  return z.string().refine((v): v is Id<K> => isId(kind, v), {
    message: `expected a ${kind} id (${ID_PREFIXES[kind]}_…)`,
  }) as unknown as z.ZodType<Id<K>>;
}

export const TenantIdSchema = idSchema("tenant");
export const WorkspaceIdSchema = idSchema("workspace");
export const SkillIdSchema = idSchema("skill");
export const SkillVersionIdSchema = idSchema("skillVersion");
export const RunIdSchema = idSchema("run");
export const AuditEventIdSchema = idSchema("auditEvent");
export const MemberIdSchema = idSchema("member");
export const IntegrationIdSchema = idSchema("integration");
export const NotificationIdSchema = idSchema("notification");
export const NotificationChannelIdSchema = idSchema("notificationChannel");
export const AuditReplayIdSchema = idSchema("auditReplay");
export const ApprovalIdSchema = idSchema("approval");
export const SiemSubscriptionIdSchema = idSchema("siemSubscription");
