/**
 * Slack Events API bodies → triggers (`slack.app_mention`, `slack.message.im`). The bot's own messages (and any
 * message posted by a bot) start nothing.
 */
import { z } from "zod";
import type { MappedEvent } from "./intake-event.js";

const SlackId = z.string().regex(/^[A-Z0-9]{2,32}$/);
const Ts = z.string().regex(/^\d{1,12}\.\d{1,8}$/);

export const UrlVerification = z.object({ type: z.literal("url_verification"), challenge: z.string().min(1).max(200) });

const EventCallback = z.object({
  type: z.literal("event_callback"),
  team_id: SlackId,
  event_id: z.string().regex(/^Ev[A-Z0-9]{4,40}$/),
  authorizations: z
    .array(z.object({ user_id: SlackId.nullable().optional(), is_bot: z.boolean().optional() }))
    .optional(),
  event: z.object({
    type: z.string(),
    subtype: z.string().optional(),
    channel_type: z.string().optional(),
    user: SlackId.optional(),
    bot_id: z.string().optional(),
    channel: SlackId,
    ts: Ts,
    thread_ts: Ts.optional(),
  }),
});

export type SlackEventCallback = z.infer<typeof EventCallback>;

export function parseSlackEventCallback(payload: unknown): SlackEventCallback | null {
  const p = EventCallback.safeParse(payload);
  return p.success ? p.data : null;
}

export function mapSlackEvent(payload: unknown): MappedEvent & { eventId?: string } {
  const cb = parseSlackEventCallback(payload);
  if (!cb) return { kind: "ignored", reason: "malformed_event" };
  const e = cb.event;
  const botUserIds = new Set(
    (cb.authorizations ?? []).filter((a) => a.is_bot && a.user_id).map((a) => a.user_id as string),
  );
  if (e.bot_id !== undefined || e.subtype === "bot_message" || (e.user !== undefined && botUserIds.has(e.user))) {
    return { kind: "ignored", reason: "own_app", eventId: cb.event_id };
  }
  let trigger: string | null = null;
  if (e.type === "app_mention") trigger = "slack.app_mention";
  else if (e.type === "message" && e.channel_type === "im" && e.subtype === undefined) trigger = "slack.message.im";
  if (!trigger || !e.user) return { kind: "ignored", reason: "unsupported_event", eventId: cb.event_id };
  return {
    kind: "event",
    eventId: cb.event_id,
    event: {
      source: "slack",
      externalId: cb.team_id,
      trigger,
      input: { teamId: cb.team_id, channel: e.channel, messageTs: e.ts, threadTs: e.thread_ts ?? e.ts, userId: e.user },
      actor: { login: e.user, isBot: false, appId: null },
    },
  };
}
