/**
 * The console's only way out: the api's generated client (@praxa/api-client), same origin, the session cookie sent by
 * the browser (the page never sees it), and the session's CSRF token on every request that changes something. The
 * console holds no secret and talks to nothing but the api.
 */
import { createApiClient, type ApiError } from "@praxa/api-client";
import { z } from "zod";

const Session = z.object({
  workspaceId: z.string(),
  memberId: z.string(),
  role: z.enum(["owner", "admin", "member", "viewer"]),
  expiresAt: z.string(),
  csrfToken: z.string(),
  signInConfigured: z.boolean(),
});
export type Session = z.infer<typeof Session>;

let csrfToken: string | null = null;

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

async function consoleFetch(input: Request): Promise<Response> {
  const headers = new Headers(input.headers);
  if (!SAFE.has(input.method) && csrfToken) headers.set("x-praxa-csrf", csrfToken);
  return fetch(new Request(input, { headers, credentials: "same-origin" }));
}

export const api = createApiClient({ baseUrl: window.location.origin, fetch: consoleFetch });

/** An api error, with the envelope's stable code. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The data of an api answer, or an ApiFailure with its code. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.data !== undefined && r.response.ok) return r.data;
  const envelope = r.error as Partial<ApiError> | undefined;
  throw new ApiFailure(
    r.response.status,
    envelope?.error?.code ?? `HTTP_${r.response.status}`,
    envelope?.error?.message ?? r.response.statusText,
  );
}

/** Who is signed in (null: nobody); remembers the CSRF token for mutations. */
async function fetchSession(): Promise<Session | null> {
  const res = await fetch("/console/session", { credentials: "same-origin" });
  if (res.status === 401) {
    csrfToken = null;
    return null;
  }
  if (!res.ok) throw new ApiFailure(res.status, `HTTP_${res.status}`, "the session could not be read");
  const session = Session.parse(await res.json());
  csrfToken = session.csrfToken;
  return session;
}

export async function signOut(): Promise<void> {
  await fetch("/auth/logout", {
    method: "POST",
    credentials: "same-origin",
    headers: csrfToken ? { "x-praxa-csrf": csrfToken } : {},
  });
  csrfToken = null;
}

export const isAdmin = (s: Session | null | undefined) => s?.role === "owner" || s?.role === "admin";

/** The signed-in session, for every page (TanStack Query). */
export const sessionQuery = { queryKey: ["session"], queryFn: fetchSession, staleTime: 60_000 } as const;
