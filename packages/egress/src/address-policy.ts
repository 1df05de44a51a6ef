/**
 * Which addresses a request to a customer-given URL may reach. Only globally routable unicast addresses, unless an
 * operator allows a range (`PRAXA_EGRESS_ALLOW_CIDRS`, empty by default: tests and self-hosted receivers).
 *
 * Classification is ipaddr.js's (the ranges of RFC 6890 and its successors; maintained, and what proxy-addr uses),
 * with IPv4-mapped IPv6 (`::ffff:127.0.0.1`) judged as the IPv4 address it maps to. Everything that is not `unicast`
 * is refused — loopback, private (RFC 1918), link-local (169.254/16: every cloud's metadata service), carrier-grade
 * NAT (100.64/10), multicast, broadcast, unspecified, reserved and documentation ranges, unique-local IPv6 (fc00::/7:
 * AWS's IPv6 metadata address fd00:ec2::254), NAT64 / 6to4 / Teredo (they embed an IPv4 address) — plus the
 * deprecated IPv4-compatible form `::a.b.c.d`, which ipaddr.js counts as unicast.
 */
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { EgressRefusedError } from "./errors.js";

export type AddressClass = string;

/** A parsed allow-list: each entry a CIDR range (`10.0.0.0/8`, `::1/128`); a bare address means that one address. */
export type AllowList = readonly (readonly [ipaddr.IPv4 | ipaddr.IPv6, number])[];

/** Parse `PRAXA_EGRESS_ALLOW_CIDRS` (comma- or space-separated). An invalid entry is an error naming its position. */
export function parseAllowCidrs(value: string | undefined): AllowList {
  const entries = (value ?? "").split(/[\s,]+/).filter((e) => e !== "");
  return entries.map((entry, i) => {
    try {
      if (entry.includes("/")) return ipaddr.parseCIDR(entry);
      const addr = ipaddr.parse(entry);
      return [addr, addr.kind() === "ipv4" ? 32 : 128] as const;
    } catch {
      throw new EgressRefusedError(`PRAXA_EGRESS_ALLOW_CIDRS: entry ${i + 1} is not an address or CIDR range`);
    }
  });
}

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes the IPv4 address it maps to; everything else stays as written. */
function normalize(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  // IPv6 is first written the way the WHATWG URL parser (and so the socket) reads it: ipaddr.js parses a dotted tail
  // such as `::8.8.8.8` as the mapped `::ffff:8.8.8.8`, while the address a socket gets is `::808:808`.
  const canonical = address.includes(":") ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
  const parsed = ipaddr.parse(canonical);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    return (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed;
}

/** The address's class: `unicast` for a globally routable address, else the name of the special range. */
export function classifyAddress(address: string): AddressClass {
  if (!ipaddr.isValid(address) || isIP(address) === 0) return "invalid";
  const parsed = normalize(address);
  if (parsed.kind() === "ipv6") {
    const parts = (parsed as ipaddr.IPv6).parts;
    // ::/96 beyond :: and ::1 is the deprecated IPv4-compatible form (ipaddr.process would even turn ::8.8.8.8 into
    // 8.8.8.8, which is not where a socket to it goes): never a destination.
    if (parts.slice(0, 6).every((p) => p === 0) && !(parts[6] === 0 && (parts[7] === 0 || parts[7] === 1)))
      return "ipv4Compatible";
  }
  return parsed.range();
}

function inAllowList(address: string, allow: AllowList): boolean {
  const parsed = normalize(address);
  return allow.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits));
}

export interface AddressVerdict {
  readonly allowed: boolean;
  /** The address class, or `allow-listed` when an operator's range let a non-public address through. */
  readonly reason: AddressClass | "allow-listed";
}

export function judgeAddress(address: string, allow: AllowList): AddressVerdict {
  const cls = classifyAddress(address);
  if (cls === "invalid") return { allowed: false, reason: cls };
  if (inAllowList(address, allow)) return { allowed: true, reason: cls === "unicast" ? cls : "allow-listed" };
  return { allowed: cls === "unicast", reason: cls };
}
