/**
 * Reading a conversation back, for rules that answer from it (the offline model): the first successful result of a
 * tool the conversation called, parsed with the caller's schema.
 */
import type { z } from "zod";
import type { ModelRequest } from "./model-provider.js";

export function toolResultInConversation<T>(request: ModelRequest, wireName: string, schema: z.ZodType<T>): T | null {
  const ids = new Set<string>();
  for (const m of request.messages)
    for (const b of m.content) if (b.type === "tool_use" && b.name === wireName) ids.add(b.id);
  for (const m of request.messages) {
    for (const b of m.content) {
      if (b.type !== "tool_result" || !ids.has(b.toolUseId) || b.isError === true) continue;
      try {
        const parsed = schema.safeParse(JSON.parse(b.content));
        if (parsed.success) return parsed.data;
      } catch {
        return null;
      }
    }
  }
  return null;
}
