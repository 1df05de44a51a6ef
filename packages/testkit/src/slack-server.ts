/**
 * A loopback Slack: the Web API methods Praxa calls, and the OAuth v2 authorize step, speaking Slack's wire protocol so
 * the real `@slack/web-api` `WebClient` drives it unchanged (`new WebClient(token, { slackApiUrl: server.apiUrl })`).
 *
 * Wire format (Slack "Web API" basics, "Using the Slack Web API", and each method's reference page):
 *  - `POST {url}/api/<method>` with `application/x-www-form-urlencoded` (what WebClient sends; object arguments such as
 *    `blocks` arrive JSON-encoded in one field) or `application/json` bodies; query-string arguments are merged in; a
 *    `GET` with query arguments works too. Tokens come as `Authorization: Bearer <token>`, or as a `token` field of a
 *    form body (JSON bodies must use the header, as on Slack).
 *  - Answers are HTTP 200 `{"ok":true,…}` or HTTP 200 `{"ok":false,"error":"<code>"}` (a `missing_scope` error adds
 *    `needed` and `provided`); an unknown method is HTTP 404 `unknown_method`; an injected `ratelimited` fault is HTTP
 *    429 with `Retry-After`, as Slack does.
 *  - `GET {url}/oauth/v2/authorize?client_id&scope&user_scope&state&redirect_uri` plays the admin clicking "Allow": it
 *    answers `302` to `redirect_uri?code=…&state=…` (or `?error=invalid_client_id`). What it was asked for is recorded in
 *    `authorizeRequests`, so a test can prove no `user_scope` was ever requested.
 *
 * Methods:
 *  - `oauth.v2.access`: client authentication by HTTP Basic or `client_id`/`client_secret` fields (`invalid_client_id`,
 *    `bad_client_secret`); `grant_type=authorization_code` (the default) exchanges a single-use code (`invalid_code`,
 *    `code_already_used`, `bad_redirect_uri` when the redirect differs from the authorize step's);
 *    `grant_type=refresh_token` (token rotation) exchanges a live refresh token for a new access token AND a new refresh
 *    token — the old refresh token is revoked (`invalid_refresh_token` on reuse), the old access token lives until its
 *    own expiry. With rotation on, access tokens are `xoxe.xoxb-1-…` with `expires_in` (default 43200 s) and refresh
 *    tokens `xoxe-1-…`; without, bot tokens are `xoxb-…` and never expire. When `user_scope` was requested — or
 *    `userTokenInAnswers` is set, for testing that a user token is discarded — the answer carries
 *    `authed_user.access_token` (`xoxp-…`), as Slack does.
 *  - `auth.test`: who the token is (bot: `user_id` = bot user, `bot_id`).
 *  - `chat.postMessage`: `channel`, `text` and/or `blocks`, `thread_ts`; needs `chat:write`; returns `ts` and the
 *    message. `chat.update`: `channel`, `ts`, `text`/`blocks`; only the token's own messages (`cant_update_message`).
 *  - `conversations.replies`: `channel`, `ts` → the parent then its replies, oldest first (`thread_not_found`); needs
 *    `channels:history` (C…), `groups:history` (G…), `im:history` (D…) or `mpim:history`.
 * Every call checks its token: none → `not_authed`; unknown, revoked or a refresh token → `invalid_auth`; past its
 * expiry → `token_expired`.
 *
 * Inspecting from a test: `calls` (count per method), `apiCalls` (method, parsed arguments, the token presented, the
 * answer's `ok`/`error`), `messages` (every message posted, edits applied: channel, ts, thread_ts, text, blocks, who),
 * `issuedTokens` (every token handed out and its state), `failNext(method, error)` to inject one error answer,
 * `postAsUser(...)` to add a human's message (e.g. a thread reply), `editAsUser` / `deleteMessage` for what a person
 * does to a message afterwards (an edit sets `edited`; a deleted thread parent with replies stays as a `tombstone`), `installBot()` for a bot token without the OAuth
 * dance, `expireToken`/`revokeToken`, and a settable clock (`now`).
 *
 * Honest limits: one Slack team and one app; channels are a fixed list the bot is a member of (anything else is
 * `channel_not_found`); `thread_ts` on post is not checked against existing messages; blocks are checked only for
 * shape (an array of objects with a string `type`); no pagination (`has_more` is always false), no rate limits unless
 * injected, no Enterprise Grid, no PKCE, no signing of requests. Token strings have Slack's prefixes and layout, not
 * their real checksums.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { ServerResponse } from "node:http";
import { sendJson, startLoopbackServer, type LoopbackServer, type RecordedRequest } from "./loopback-server.js";

export interface SlackServerOptions {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly teamId?: string;
  readonly teamName?: string;
  readonly appId?: string;
  readonly botUserId?: string;
  readonly botId?: string;
  /** Bot scopes granted when an authorize request names none (default `chat:write,channels:history,app_mentions:read`). */
  readonly botScopes?: readonly string[];
  /** Slack token rotation (`xoxe.xoxb-` + `xoxe-` refresh tokens with `expires_in`); default off. */
  readonly tokenRotation?: boolean;
  /** Lifetime of rotating access tokens (default 43200 s = 12 h, as on Slack). */
  readonly tokenLifetimeSeconds?: number;
  /** Channel ids the bot is a member of (default `C0PRAXA01`). */
  readonly channels?: readonly string[];
  /** The clock, in ms since the epoch (default `Date.now`). Settable later through `server.now`. */
  readonly now?: () => number;
}

export type SlackTokenKind = "bot" | "bot_rotating" | "refresh" | "user";

export interface SlackIssuedToken {
  readonly token: string;
  readonly kind: SlackTokenKind;
  readonly scopes: readonly string[];
  /** Access tokens with rotation only; ms since the epoch. */
  expiresAt: number | null;
  revoked: boolean;
}

export interface SlackApiCall {
  readonly method: string;
  readonly httpMethod: string;
  readonly contentType: "form" | "json" | "none";
  /** Arguments as Slack read them (body, query merged; `blocks` decoded), without `token`/`client_secret`. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The token presented (Bearer or form `token`), or null. */
  readonly token: string | null;
  readonly ok: boolean;
  readonly error: string | undefined;
}

export interface SlackMessage {
  readonly channel: string;
  readonly ts: string;
  /** Set on replies (and on a thread's parent once it has one, as Slack shows it). */
  threadTs: string | undefined;
  text: string;
  blocks: readonly unknown[] | undefined;
  /** Slack user id of the author (the bot user for bot tokens; `USLACKBOT` once deleted and kept as a tombstone). */
  user: string;
  /** `tombstone`: deleted, kept as a placeholder because it has replies (as Slack shows a deleted thread parent). */
  subtype?: "tombstone" | undefined;
  /** Set when a bot posted it. */
  botId: string | undefined;
  /** Who posted it: the token used, so a test can check which token a call carried. */
  readonly token: string | null;
  edited: { readonly user: string; readonly ts: string } | undefined;
}

export interface SlackAuthorizeRequest {
  readonly clientId: string | null;
  readonly scope: string | null;
  /** Null when none was asked — what Praxa must always send. */
  readonly userScope: string | null;
  readonly state: string | null;
  readonly redirectUri: string | null;
}

export interface SlackInstalledBot {
  readonly botToken: string;
  readonly refreshToken: string | null;
  readonly expiresAt: Date | null;
}

export interface SlackServer extends LoopbackServer {
  /** Base for WebClient's `slackApiUrl` (ends with `/api/`). */
  readonly apiUrl: string;
  /** Where the OAuth v2 authorize step lives (`{url}/oauth/v2/authorize`). */
  readonly authorizeUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly teamId: string;
  readonly teamName: string;
  readonly appId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly calls: Readonly<Record<string, number>>;
  readonly apiCalls: readonly SlackApiCall[];
  readonly messages: readonly SlackMessage[];
  readonly issuedTokens: readonly SlackIssuedToken[];
  readonly authorizeRequests: readonly SlackAuthorizeRequest[];
  /** Answer every code exchange with a user token under `authed_user`, even without `user_scope`. */
  userTokenInAnswers: boolean;
  tokenRotation: boolean;
  tokenLifetimeSeconds: number;
  now: () => number;
  /** A code as the authorize step would issue it (for tests that skip the redirect). */
  issueCode(options?: { scopes?: readonly string[]; userScopes?: readonly string[]; redirectUri?: string }): string;
  /** A bot installation without the OAuth dance: its token (and refresh token with rotation). */
  installBot(scopes?: readonly string[]): SlackInstalledBot;
  /** Make a token's next use answer `token_expired` (access tokens) — as if its expiry passed. */
  expireToken(token: string): void;
  revokeToken(token: string): void;
  /** The next call of `method` answers `{ok:false, error}` (`ratelimited`: HTTP 429 with `Retry-After`). */
  failNext(method: string, error: string, options?: { retryAfterSeconds?: number }): void;
  /** A human's message in a channel (optionally a thread reply); returns its ts. */
  postAsUser(channel: string, user: string, text: string, threadTs?: string): string;
  /** The thread under `ts` in `channel`: the parent then its replies (what conversations.replies answers). */
  thread(channel: string, ts: string): SlackMessage[];
  /** A person edits their message in the Slack client: new text, `edited` set (Slack's `message_changed`). */
  editAsUser(channel: string, ts: string, text: string): void;
  /**
   * A person deletes a message: a thread parent with replies stays as Slack's placeholder (`subtype: "tombstone"`,
   * "This message was deleted."); any other message is gone. Deleting a thread's last message leaves no thread
   * (`conversations.replies` → `thread_not_found`).
   */
  deleteMessage(channel: string, ts: string): void;
}

class SlackFault extends Error {
  constructor(
    readonly error: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(error);
  }
}

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
function base62(n: number): string {
  let out = "";
  for (const b of randomBytes(n)) out += BASE62[b % 62];
  return out;
}
const digits = (n: number): string => Array.from(randomBytes(n), (b) => String(b % 10)).join("");

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseArgs(
  req: RecordedRequest,
  query: URLSearchParams,
): { args: Record<string, unknown>; contentType: SlackApiCall["contentType"] } {
  const args: Record<string, unknown> = {};
  for (const [k, v] of query) args[k] = v;
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (req.body.length === 0) return { args, contentType: "none" };
  if (type === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body.toString("utf8"));
    } catch {
      throw new SlackFault("invalid_json");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new SlackFault("json_not_object");
    Object.assign(args, parsed);
    return { args, contentType: "json" };
  }
  if (type === "application/x-www-form-urlencoded") {
    for (const [k, v] of new URLSearchParams(req.body.toString("utf8"))) args[k] = v;
    return { args, contentType: "form" };
  }
  throw new SlackFault("invalid_form_data");
}

function str(args: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = args[name];
  if (typeof v === "string" && v.length > 0) return v;
  if (typeof v === "number") return String(v);
  return undefined;
}

/** `blocks` as Slack reads it: a JSON string (form bodies) or an array (JSON bodies) of objects with a `type`. */
function readBlocks(args: Record<string, unknown>): unknown[] | undefined {
  let v = args["blocks"];
  if (v === undefined || v === "") return undefined;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw new SlackFault("invalid_blocks_format");
    }
  }
  if (!Array.isArray(v)) throw new SlackFault("invalid_blocks_format");
  for (const b of v) {
    if (typeof b !== "object" || b === null || typeof (b as { type?: unknown }).type !== "string")
      throw new SlackFault("invalid_blocks");
  }
  args["blocks"] = v;
  return v;
}

const HISTORY_SCOPE: Readonly<Record<string, string>> = { C: "channels:history", G: "groups:history", D: "im:history" };

export async function startSlackServer(options: SlackServerOptions = {}): Promise<SlackServer> {
  const clientId = options.clientId ?? `${digits(10)}.${digits(12)}`;
  const clientSecret = options.clientSecret ?? randomBytes(16).toString("hex");
  const teamId = options.teamId ?? "T0PRAXA01";
  const teamName = options.teamName ?? "Praxa Test";
  const appId = options.appId ?? "A0PRAXA01";
  const botUserId = options.botUserId ?? "U0PRAXABOT";
  const botId = options.botId ?? "B0PRAXABOT";
  const defaultScopes = [...(options.botScopes ?? ["app_mentions:read", "channels:history", "chat:write"])];
  const channels = new Set(options.channels ?? ["C0PRAXA01"]);
  const humanUserId = "U0PRAXAADM";

  const calls: Record<string, number> = {};
  const apiCalls: SlackApiCall[] = [];
  const messages: SlackMessage[] = [];
  const issuedTokens: SlackIssuedToken[] = [];
  const tokensByValue = new Map<string, SlackIssuedToken>();
  const authorizeRequests: SlackAuthorizeRequest[] = [];
  const codes = new Map<
    string,
    { scopes: string[]; userScopes: string[]; redirectUri: string | undefined; expiresAt: number; used: boolean }
  >();
  const faults = new Map<string, { error: string; retryAfterSeconds: number }>();
  const state = {
    userTokenInAnswers: false,
    tokenRotation: options.tokenRotation ?? false,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 43_200,
    now: options.now ?? ((): number => Date.now()),
  };
  let lastTs = 0;
  const teamNum = digits(11);
  const botNum = digits(12);

  const nextTs = (): string => {
    // Slack ts: seconds "." microseconds, unique per channel; here unique and increasing across the server.
    lastTs = Math.max(lastTs + 1, state.now() * 1000);
    return `${Math.floor(lastTs / 1_000_000)}.${String(lastTs % 1_000_000).padStart(6, "0")}`;
  };

  const issue = (kind: SlackTokenKind, scopes: readonly string[]): SlackIssuedToken => {
    let token: string;
    let expiresAt: number | null = null;
    if (kind === "bot") token = `xoxb-${teamNum}-${botNum}-${base62(24)}`;
    else if (kind === "bot_rotating") {
      token = `xoxe.xoxb-1-${base62(48)}`;
      expiresAt = state.now() + state.tokenLifetimeSeconds * 1000;
    } else if (kind === "refresh") token = `xoxe-1-${base62(64)}`;
    else token = `xoxp-${teamNum}-${digits(11)}-${digits(12)}-${base62(32)}`;
    const record: SlackIssuedToken = { token, kind, scopes: [...scopes], expiresAt, revoked: false };
    issuedTokens.push(record);
    tokensByValue.set(token, record);
    return record;
  };

  const installBot = (
    scopes: readonly string[] = defaultScopes,
  ): { access: SlackIssuedToken; refresh: SlackIssuedToken | null } => {
    if (state.tokenRotation) return { access: issue("bot_rotating", scopes), refresh: issue("refresh", scopes) };
    return { access: issue("bot", scopes), refresh: null };
  };

  const botAnswer = (access: SlackIssuedToken, refresh: SlackIssuedToken | null): Record<string, unknown> => ({
    ok: true,
    app_id: appId,
    access_token: access.token,
    token_type: "bot",
    scope: access.scopes.join(","),
    bot_user_id: botUserId,
    team: { id: teamId, name: teamName },
    enterprise: null,
    is_enterprise_install: false,
    ...(refresh !== null && access.expiresAt !== null
      ? { refresh_token: refresh.token, expires_in: Math.max(0, Math.round((access.expiresAt - state.now()) / 1000)) }
      : {}),
  });

  const authenticate = (token: string | null): SlackIssuedToken => {
    if (token === null) throw new SlackFault("not_authed");
    const record = tokensByValue.get(token);
    if (record === undefined || record.revoked || record.kind === "refresh") throw new SlackFault("invalid_auth");
    if (record.expiresAt !== null && record.expiresAt <= state.now()) throw new SlackFault("token_expired");
    return record;
  };

  const needScope = (who: SlackIssuedToken, scope: string): void => {
    if (!who.scopes.includes(scope))
      throw new SlackFault("missing_scope", { needed: scope, provided: who.scopes.join(",") });
  };

  const authorOf = (who: SlackIssuedToken): { user: string; botId: string | undefined } =>
    who.kind === "user" ? { user: humanUserId, botId: undefined } : { user: botUserId, botId };

  const knownChannel = (args: Record<string, unknown>): string => {
    const channel = str(args, "channel");
    if (channel === undefined) throw new SlackFault("channel_not_found");
    if (!channels.has(channel)) throw new SlackFault("channel_not_found");
    return channel;
  };

  const wire = (m: SlackMessage): Record<string, unknown> => {
    const replies = messages.filter((r) => r.channel === m.channel && r.threadTs === m.ts && r.ts !== m.ts);
    return {
      type: "message",
      ...(m.botId !== undefined ? { bot_id: m.botId, app_id: appId } : {}),
      user: m.user,
      text: m.text,
      ts: m.ts,
      team: teamId,
      ...(m.blocks !== undefined ? { blocks: m.blocks } : {}),
      ...(m.threadTs !== undefined ? { thread_ts: m.threadTs } : {}),
      ...(replies.length > 0
        ? {
            reply_count: replies.length,
            reply_users: [...new Set(replies.map((r) => r.user))],
            latest_reply: replies[replies.length - 1]?.ts,
          }
        : {}),
      ...(m.edited !== undefined ? { edited: m.edited } : {}),
      ...(m.subtype !== undefined ? { subtype: m.subtype, hidden: true } : {}),
    };
  };

  const thread = (channel: string, ts: string): SlackMessage[] => {
    const parent = messages.find((m) => m.channel === channel && m.ts === ts);
    if (parent === undefined) return [];
    const root = parent.threadTs !== undefined && parent.threadTs !== parent.ts ? parent.threadTs : parent.ts;
    return messages.filter((m) => m.channel === channel && (m.ts === root || m.threadTs === root));
  };

  const post = (
    channel: string,
    author: { user: string; botId: string | undefined },
    token: string | null,
    text: string,
    blocks: unknown[] | undefined,
    threadTs: string | undefined,
  ): SlackMessage => {
    const message: SlackMessage = {
      channel,
      ts: nextTs(),
      threadTs,
      text,
      blocks,
      user: author.user,
      botId: author.botId,
      token,
      edited: undefined,
    };
    messages.push(message);
    if (threadTs !== undefined) {
      const parent = messages.find((m) => m.channel === channel && m.ts === threadTs);
      if (parent !== undefined && parent.threadTs === undefined) parent.threadTs = parent.ts;
    }
    return message;
  };

  const clientAuth = (req: RecordedRequest, args: Record<string, unknown>): void => {
    let id = str(args, "client_id");
    let secret = str(args, "client_secret");
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? "");
    if (basic?.[1] !== undefined) {
      const decoded = Buffer.from(basic[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) {
        id = decodeURIComponent(decoded.slice(0, colon));
        secret = decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    if (id === undefined || id !== clientId) throw new SlackFault("invalid_client_id");
    if (secret === undefined || !safeEqual(secret, clientSecret)) throw new SlackFault("bad_client_secret");
  };

  const methods: Readonly<
    Record<
      string,
      (args: Record<string, unknown>, token: string | null, req: RecordedRequest) => Record<string, unknown>
    >
  > = {
    "oauth.v2.access": (args, _token, req) => {
      clientAuth(req, args);
      const grant = str(args, "grant_type") ?? "authorization_code";
      if (grant === "refresh_token") {
        const presented = str(args, "refresh_token");
        const record = presented === undefined ? undefined : tokensByValue.get(presented);
        if (record === undefined || record.kind !== "refresh" || record.revoked)
          throw new SlackFault("invalid_refresh_token");
        record.revoked = true;
        const access = issue("bot_rotating", record.scopes);
        const refresh = issue("refresh", record.scopes);
        return botAnswer(access, refresh);
      }
      if (grant !== "authorization_code") throw new SlackFault("invalid_grant_type");
      const code = str(args, "code");
      const entry = code === undefined ? undefined : codes.get(code);
      if (entry === undefined || entry.expiresAt <= state.now()) throw new SlackFault("invalid_code");
      if (entry.used) throw new SlackFault("code_already_used");
      if (entry.redirectUri !== undefined && str(args, "redirect_uri") !== entry.redirectUri)
        throw new SlackFault("bad_redirect_uri");
      entry.used = true;
      const { access, refresh } = installBot(entry.scopes);
      const answer = botAnswer(access, refresh);
      if (entry.userScopes.length > 0 || state.userTokenInAnswers) {
        const user = issue("user", entry.userScopes.length > 0 ? entry.userScopes : ["chat:write"]);
        answer["authed_user"] = {
          id: humanUserId,
          scope: user.scopes.join(","),
          access_token: user.token,
          token_type: "user",
        };
      } else {
        answer["authed_user"] = { id: humanUserId };
      }
      return answer;
    },
    "auth.test": (_args, token) => {
      const who = authenticate(token);
      const author = authorOf(who);
      return {
        ok: true,
        url: `https://${teamName.toLowerCase().replace(/[^a-z0-9]+/g, "-")}.slack.com/`,
        team: teamName,
        user: who.kind === "user" ? "admin" : "praxa",
        team_id: teamId,
        user_id: author.user,
        ...(author.botId !== undefined ? { bot_id: author.botId } : {}),
        is_enterprise_install: false,
      };
    },
    "chat.postMessage": (args, token) => {
      const who = authenticate(token);
      needScope(who, "chat:write");
      const channel = knownChannel(args);
      const blocks = readBlocks(args);
      const text = str(args, "text");
      if (text === undefined && blocks === undefined && args["attachments"] === undefined)
        throw new SlackFault("no_text");
      if (text !== undefined && text.length > 40_000) throw new SlackFault("msg_too_long");
      const m = post(channel, authorOf(who), token, text ?? "", blocks, str(args, "thread_ts"));
      return { ok: true, channel, ts: m.ts, message: wire(m) };
    },
    "chat.update": (args, token) => {
      const who = authenticate(token);
      needScope(who, "chat:write");
      const channel = knownChannel(args);
      const ts = str(args, "ts");
      const m = messages.find((x) => x.channel === channel && x.ts === ts);
      if (m === undefined) throw new SlackFault("message_not_found");
      if (m.user !== authorOf(who).user) throw new SlackFault("cant_update_message");
      const blocks = readBlocks(args);
      const text = str(args, "text");
      if (text === undefined && blocks === undefined && args["attachments"] === undefined)
        throw new SlackFault("no_text");
      if (text !== undefined) m.text = text;
      if (blocks !== undefined) m.blocks = blocks;
      m.edited = { user: m.user, ts: nextTs() };
      return { ok: true, channel, ts: m.ts, text: m.text, message: wire(m) };
    },
    "conversations.replies": (args, token) => {
      const who = authenticate(token);
      const channel = str(args, "channel");
      if (channel === undefined) throw new SlackFault("channel_not_found");
      needScope(who, HISTORY_SCOPE[channel[0] ?? ""] ?? "mpim:history");
      if (!channels.has(channel)) throw new SlackFault("channel_not_found");
      const ts = str(args, "ts");
      const list = ts === undefined ? [] : thread(channel, ts);
      if (list.length === 0) throw new SlackFault("thread_not_found");
      return { ok: true, messages: list.map(wire), has_more: false, response_metadata: { next_cursor: "" } };
    },
  };

  const redirect = (res: ServerResponse, location: string): void => {
    res.writeHead(302, { location, "content-length": 0 });
    res.end();
  };

  const server = await startLoopbackServer((req, res) => {
    const url = new URL(req.path, "http://127.0.0.1");
    if (url.pathname === "/oauth/v2/authorize" && req.method === "GET") {
      const q = url.searchParams;
      const request: SlackAuthorizeRequest = {
        clientId: q.get("client_id"),
        scope: q.get("scope"),
        userScope: q.get("user_scope"),
        state: q.get("state"),
        redirectUri: q.get("redirect_uri"),
      };
      authorizeRequests.push(request);
      calls["oauth/v2/authorize"] = (calls["oauth/v2/authorize"] ?? 0) + 1;
      if (request.redirectUri === null) return sendJson(res, 400, { ok: false, error: "bad_redirect_uri" });
      const back = new URL(request.redirectUri);
      if (request.clientId !== clientId) back.searchParams.set("error", "invalid_client_id");
      else {
        const split = (s: string | null): string[] =>
          (s ?? "")
            .split(",")
            .map((x) => x.trim())
            .filter(Boolean);
        back.searchParams.set(
          "code",
          issueCode({
            scopes: split(request.scope),
            userScopes: split(request.userScope),
            redirectUri: request.redirectUri,
          }),
        );
      }
      if (request.state !== null) back.searchParams.set("state", request.state);
      return redirect(res, back.toString());
    }
    const m = /^\/api\/([A-Za-z0-9.]+)$/.exec(url.pathname);
    if (!m?.[1]) return sendJson(res, 404, { ok: false, error: "unknown_method" });
    const method = m[1];
    calls[method] = (calls[method] ?? 0) + 1;
    let args: Record<string, unknown> = {};
    let contentType: SlackApiCall["contentType"] = "none";
    let token: string | null = null;
    const record = (ok: boolean, error: string | undefined): void => {
      const { token: _t, client_secret: _s, ...shown } = args;
      apiCalls.push({ method, httpMethod: req.method, contentType, args: shown, token, ok, error });
    };
    const handler = methods[method];
    if (handler === undefined) {
      record(false, "unknown_method");
      return sendJson(res, 404, { ok: false, error: "unknown_method", req_method: method });
    }
    try {
      ({ args, contentType } = parseArgs(req, url.searchParams));
      const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "");
      token = bearer?.[1] ?? (contentType === "json" ? null : (str(args, "token") ?? null));
      const fault = faults.get(method);
      if (fault !== undefined) {
        faults.delete(method);
        record(false, fault.error);
        if (fault.error === "ratelimited") {
          return sendJson(
            res,
            429,
            { ok: false, error: "ratelimited" },
            { "retry-after": String(fault.retryAfterSeconds) },
          );
        }
        return sendJson(res, 200, { ok: false, error: fault.error });
      }
      const answer = handler(args, token, req);
      record(true, undefined);
      return sendJson(res, 200, answer);
    } catch (err) {
      if (!(err instanceof SlackFault)) throw err;
      record(false, err.error);
      return sendJson(res, 200, { ok: false, error: err.error, ...err.extra });
    }
  });

  function issueCode(
    o: { scopes?: readonly string[]; userScopes?: readonly string[]; redirectUri?: string } = {},
  ): string {
    const code = `${digits(10)}.${digits(13)}.${randomBytes(32).toString("hex")}`;
    const scopes = o.scopes !== undefined && o.scopes.length > 0 ? [...o.scopes] : [...defaultScopes];
    // Slack codes are single-use and expire after 10 minutes.
    codes.set(code, {
      scopes: scopes.sort(),
      userScopes: [...(o.userScopes ?? [])],
      redirectUri: o.redirectUri,
      expiresAt: state.now() + 600_000,
      used: false,
    });
    return code;
  }

  // Accessors are copied as accessors (Object.assign would copy their current values and cut the link to `state`).
  const extension = {
    apiUrl: `${server.url}/api/`,
    authorizeUrl: `${server.url}/oauth/v2/authorize`,
    clientId,
    clientSecret,
    teamId,
    teamName,
    appId,
    botUserId,
    botId,
    calls,
    apiCalls,
    messages,
    issuedTokens,
    authorizeRequests,
    get userTokenInAnswers() {
      return state.userTokenInAnswers;
    },
    set userTokenInAnswers(v: boolean) {
      state.userTokenInAnswers = v;
    },
    get tokenRotation() {
      return state.tokenRotation;
    },
    set tokenRotation(v: boolean) {
      state.tokenRotation = v;
    },
    get tokenLifetimeSeconds() {
      return state.tokenLifetimeSeconds;
    },
    set tokenLifetimeSeconds(v: number) {
      state.tokenLifetimeSeconds = v;
    },
    get now() {
      return state.now;
    },
    set now(v: () => number) {
      state.now = v;
    },
    issueCode,
    installBot(scopes?: readonly string[]): SlackInstalledBot {
      const { access, refresh } = installBot(scopes);
      return {
        botToken: access.token,
        refreshToken: refresh?.token ?? null,
        expiresAt: access.expiresAt === null ? null : new Date(access.expiresAt),
      };
    },
    expireToken(token: string): void {
      const t = tokensByValue.get(token);
      if (t !== undefined) t.expiresAt = state.now();
    },
    revokeToken(token: string): void {
      const t = tokensByValue.get(token);
      if (t !== undefined) t.revoked = true;
    },
    failNext(method: string, error: string, o: { retryAfterSeconds?: number } = {}): void {
      faults.set(method, { error, retryAfterSeconds: o.retryAfterSeconds ?? 1 });
    },
    postAsUser(channel: string, user: string, text: string, threadTs?: string): string {
      return post(channel, { user, botId: undefined }, null, text, undefined, threadTs).ts;
    },
    thread,
    editAsUser(channel: string, ts: string, text: string): void {
      const m = messages.find((x) => x.channel === channel && x.ts === ts);
      if (m === undefined) throw new Error(`no message ${ts} in ${channel}`);
      m.text = text;
      m.blocks = undefined;
      m.edited = { user: m.user, ts: nextTs() };
    },
    deleteMessage(channel: string, ts: string): void {
      const i = messages.findIndex((x) => x.channel === channel && x.ts === ts);
      const m = messages[i];
      if (m === undefined) throw new Error(`no message ${ts} in ${channel}`);
      const hasReplies = messages.some((r) => r.channel === channel && r.threadTs === ts && r.ts !== ts);
      if (hasReplies) {
        m.subtype = "tombstone";
        m.text = "This message was deleted.";
        m.user = "USLACKBOT";
        m.blocks = undefined;
        m.botId = undefined;
      } else messages.splice(i, 1);
    },
  };
  return Object.defineProperties(server, Object.getOwnPropertyDescriptors(extension)) as LoopbackServer &
    typeof extension;
}
