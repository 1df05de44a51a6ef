/**
 * Resolve a customer-given URL once and decide where, if anywhere, a request may go. The answer pins one address:
 * the request connects to it and to nothing else, so a DNS answer that changes between this check and the connect
 * (rebinding) cannot move the request inside our network.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { judgeAddress } from "./address-policy.js";
import type { EgressPolicy } from "./egress-policy.js";
import { EgressRefusedError, EgressUnavailableError } from "./errors.js";

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Name → addresses. The default asks the system resolver for every address (`getaddrinfo`, as Node's own http does). */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  resolvedAddresses(await lookup(hostname, { all: true, verbatim: true }));

/** The resolver's answers as the guard reads them: family 6 or 4. */
export function resolvedAddresses(all: readonly { address: string; family: number }[]): ResolvedAddress[] {
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

export interface EgressTarget {
  readonly url: URL;
  /** The host name as written (for the Host header and TLS SNI / certificate check), brackets removed. */
  readonly hostname: string;
  readonly pinned: ResolvedAddress;
}

export async function resolveEgressTarget(
  rawUrl: string | URL,
  policy: EgressPolicy,
  resolver: Resolver = systemResolver,
): Promise<EgressTarget> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new EgressRefusedError("the destination is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new EgressRefusedError(`the scheme ${url.protocol} is refused: https only`);
  if (policy.requireHttps && url.protocol !== "https:")
    throw new EgressRefusedError("plain http is refused: https only");
  if (url.username !== "" || url.password !== "")
    throw new EgressRefusedError("credentials in the URL are refused; configure them as the format’s credentials");
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (hostname === "") throw new EgressRefusedError("the destination has no host");

  let addresses: readonly ResolvedAddress[];
  const literal = isIP(hostname);
  if (literal !== 0) addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await resolver(hostname);
    } catch (err) {
      throw new EgressUnavailableError("the destination’s host name did not resolve", {
        cause: err,
        details: { code: (err as { code?: string }).code ?? "unknown" },
      });
    }
  }
  // Every answer must be acceptable: a name that also resolves inside our network is refused, whichever we would pick.
  for (const a of addresses) {
    const verdict = judgeAddress(a.address, policy.allow);
    if (!verdict.allowed)
      throw new EgressRefusedError(`the destination resolves to a refused address (${verdict.reason})`, {
        details: { addressClass: verdict.reason },
      });
  }
  const pinned = addresses[0];
  if (!pinned) throw new EgressUnavailableError("the destination’s host name resolved to no address");
  return { url, hostname, pinned };
}
