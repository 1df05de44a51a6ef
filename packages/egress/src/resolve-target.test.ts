/**
 * `resolveEgressTarget` case by case (security row 28): the URL's scheme (https only where the policy says so), no
 * credentials in it, an address literal taken as written (IPv4 and IPv6, brackets removed), a name resolved once with
 * every answer judged and the first one pinned, and the failures of the resolver told apart from a refusal. The
 * resolver is the function's own parameter (the system resolver by default), given here as a table of answers.
 */
import { describe, expect, it } from "@jest/globals";
import { classifyAddress, judgeAddress, parseAllowCidrs } from "./address-policy.js";
import { egressPolicy } from "./egress-policy.js";
import { EgressRefusedError, EgressUnavailableError } from "./errors.js";
import {
  resolvedAddresses,
  resolveEgressTarget,
  systemResolver,
  type ResolvedAddress,
  type Resolver,
} from "./resolve-target.js";

const PUBLIC4 = "93.184.216.34";
const PUBLIC6 = "2606:2800:220:1:248:1893:25c8:1946";
const table =
  (answers: Record<string, readonly ResolvedAddress[]>): Resolver =>
  (hostname) =>
    hostname in answers
      ? Promise.resolve(answers[hostname] ?? [])
      : Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
const resolver = table({
  "hooks.example.com": [{ address: PUBLIC4, family: 4 }],
  "dual.example.com": [
    { address: PUBLIC6, family: 6 },
    { address: PUBLIC4, family: 4 },
  ],
  "rebind.example.com": [
    { address: PUBLIC4, family: 4 },
    { address: "10.0.0.5", family: 4 },
  ],
  "empty.example.com": [],
});
const lax = egressPolicy({ requireHttps: false });
const strict = egressPolicy({ requireHttps: true });

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof EgressRefusedError ? "refused" : err instanceof EgressUnavailableError ? "unavailable" : err;
};

describe("resolveEgressTarget: the URL", () => {
  it("takes https always and plain http only when the policy allows it", async () => {
    expect((await resolveEgressTarget("https://hooks.example.com/x", strict, resolver)).pinned.address).toBe(PUBLIC4);
    expect(await refusal(resolveEgressTarget("http://hooks.example.com/x", strict, resolver))).toBe("refused");
    expect((await resolveEgressTarget("http://hooks.example.com/x", lax, resolver)).url.protocol).toBe("http:");
    for (const bad of ["ftp://hooks.example.com/x", "file:///etc/passwd", "not a url", "https://"])
      expect([bad, await refusal(resolveEgressTarget(bad, lax, resolver))]).toEqual([bad, "refused"]);
  });

  it("refuses credentials in the URL, a user or a password alone too", async () => {
    for (const bad of [
      "https://u:p@hooks.example.com/",
      "https://u@hooks.example.com/",
      "https://:p@hooks.example.com/",
    ])
      expect([bad, await refusal(resolveEgressTarget(bad, lax, resolver))]).toEqual([bad, "refused"]);
  });
});

describe("resolveEgressTarget: the address", () => {
  it("takes an address literal as written, IPv4 or IPv6 (brackets removed), without resolving", async () => {
    const noResolve: Resolver = () => Promise.reject(new Error("must not resolve a literal"));
    expect(await resolveEgressTarget(`https://${PUBLIC4}/`, lax, noResolve)).toMatchObject({
      hostname: PUBLIC4,
      pinned: { address: PUBLIC4, family: 4 },
    });
    expect(await resolveEgressTarget(`https://[${PUBLIC6}]:8443/`, lax, noResolve)).toMatchObject({
      hostname: PUBLIC6,
      pinned: { address: PUBLIC6, family: 6 },
    });
    for (const bad of [
      "https://127.0.0.1/",
      "https://[::1]/",
      "https://169.254.169.254/",
      "https://[::ffff:10.0.0.1]/",
    ])
      expect([bad, await refusal(resolveEgressTarget(bad, lax, noResolve))]).toEqual([bad, "refused"]);
  });

  it("pins the first answer of a name, and refuses a name any of whose answers is refused", async () => {
    const t = await resolveEgressTarget("https://dual.example.com/hook", lax, resolver);
    expect(t.hostname).toBe("dual.example.com");
    expect(t.pinned).toEqual({ address: PUBLIC6, family: 6 });
    expect(t.url.href).toBe("https://dual.example.com/hook");
    const err = await resolveEgressTarget("https://rebind.example.com/", lax, resolver).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EgressRefusedError);
    expect((err as EgressRefusedError).details).toEqual({ addressClass: "private" });
  });

  it("lets an allow-listed private address through", async () => {
    const allow = egressPolicy({ requireHttps: false, allowCidrs: "10.0.0.0/8" });
    expect((await resolveEgressTarget("https://rebind.example.com/", allow, resolver)).pinned.address).toBe(PUBLIC4);
  });

  it("tells a name that does not resolve, or resolves to nothing, apart from a refusal", async () => {
    const err = await resolveEgressTarget("https://nowhere.example.com/", lax, resolver).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EgressUnavailableError);
    expect((err as EgressUnavailableError).details).toEqual({ code: "ENOTFOUND" });
    const bare = await resolveEgressTarget("https://x.example.com/", lax, () => Promise.reject(new Error("x"))).catch(
      (e: unknown) => e,
    );
    expect((bare as EgressUnavailableError).details).toEqual({ code: "unknown" });
    expect(await refusal(resolveEgressTarget("https://empty.example.com/", lax, resolver))).toBe("unavailable");
  });
});

describe("systemResolver", () => {
  it("answers every address of a name with its family", async () => {
    const answers = await systemResolver("localhost");
    expect(answers.length).toBeGreaterThan(0);
    for (const a of answers) expect(a.family).toBe(a.address.includes(":") ? 6 : 4);
  });
  it("reads the family of each answer", () => {
    expect(
      resolvedAddresses([
        { address: PUBLIC6, family: 6 },
        { address: PUBLIC4, family: 4 },
      ]),
    ).toEqual([
      { address: PUBLIC6, family: 6 },
      { address: PUBLIC4, family: 4 },
    ]);
  });
});

describe("the address policy's edges", () => {
  it("an address only one of the two parsers takes is invalid (a hex or short IPv4 form is not an address here)", () => {
    for (const a of ["0x7f.0.0.1", "127.1", "0177.0.0.1"]) expect([a, classifyAddress(a)]).toEqual([a, "invalid"]);
  });
  it("::/96 beyond :: and ::1 is the IPv4-compatible form, whatever its last part", () => {
    for (const a of ["::5", "::2", "::8.8.8.8", "::1:0"])
      expect([a, classifyAddress(a)]).toEqual([a, "ipv4Compatible"]);
  });
  it("an allow-listed address is let through, labelled allow-listed unless it is public anyway", () => {
    expect(judgeAddress("10.0.0.5", parseAllowCidrs("10.0.0.0/8"))).toEqual({ allowed: true, reason: "allow-listed" });
    expect(judgeAddress(PUBLIC4, parseAllowCidrs(PUBLIC4))).toEqual({ allowed: true, reason: "unicast" });
    expect(judgeAddress("10.0.0.5", parseAllowCidrs(""))).toEqual({ allowed: false, reason: "private" });
  });
});
