/**
 * Schemas shared by the routes' declared answers (route-builder.ts): what a caller receives. Times are ISO-8601 UTC
 * strings; ids are TypeIDs (`<prefix>_<26 base32 characters>`).
 */
import { z } from "zod";
import { ID_PREFIXES, type IdKind } from "@praxa/core";

export const Timestamp = z.iso.datetime().meta({ description: "ISO-8601 UTC time" });
export const Id = (kind: IdKind) => z.string().meta({ description: `${kind} id (TypeID ${ID_PREFIXES[kind]}_…)` });
export const JsonObject = z.record(z.string(), z.unknown());
export const MemberRole = z.enum(["owner", "admin", "member", "viewer"]);
export const Deleted = z.object({ deleted: z.literal(true) }).strict();
