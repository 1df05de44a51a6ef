import { describe, expect, it } from "@jest/globals";
import { classifyAddress, judgeAddress, parseAllowCidrs } from "./address-policy.js";
import { EgressRefusedError } from "./errors.js";

// Every class the SIEM and Skill-callback issues name, IPv4 and IPv6, including the forms that smuggle an IPv4
// address inside IPv6. Each row: the address, whether it may be reached with an empty allow-list, its class.
const TABLE: readonly (readonly [string, boolean, string])[] = [
  ["93.184.216.34", true, "unicast"],
  ["2606:2800:220:1:248:1893:25c8:1946", true, "unicast"],
  ["127.0.0.1", false, "loopback"],
  ["127.255.255.254", false, "loopback"],
  ["::1", false, "loopback"],
  ["10.0.0.1", false, "private"],
  ["172.16.5.4", false, "private"],
  ["172.31.255.255", false, "private"],
  ["192.168.1.1", false, "private"],
  ["169.254.169.254", false, "linkLocal"], // AWS / GCP / Azure instance metadata
  ["169.254.170.2", false, "linkLocal"], // ECS task metadata
  ["fe80::1", false, "linkLocal"],
  ["fd00:ec2::254", false, "uniqueLocal"], // AWS IMDS over IPv6
  ["fc00::1", false, "uniqueLocal"],
  ["100.64.0.1", false, "carrierGradeNat"],
  ["100.100.100.200", false, "carrierGradeNat"], // Alibaba Cloud metadata
  ["224.0.0.1", false, "multicast"],
  ["ff02::1", false, "multicast"],
  ["255.255.255.255", false, "broadcast"],
  ["0.0.0.0", false, "unspecified"],
  ["::", false, "unspecified"],
  ["192.0.0.192", false, "reserved"], // Oracle Cloud metadata
  ["198.18.0.1", false, "reserved"],
  ["240.0.0.1", false, "reserved"],
  ["::ffff:127.0.0.1", false, "loopback"], // IPv4-mapped
  ["::ffff:7f00:1", false, "loopback"],
  ["::ffff:169.254.169.254", false, "linkLocal"],
  ["::ffff:10.1.2.3", false, "private"],
  ["::127.0.0.1", false, "ipv4Compatible"], // deprecated IPv4-compatible form
  ["::8.8.8.8", false, "ipv4Compatible"], // even of a public address: a socket to it does not go there
  ["64:ff9b::7f00:1", false, "rfc6052"], // NAT64 of 127.0.0.1
  ["2002:7f00:1::1", false, "6to4"], // 6to4 of 127.0.0.1
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", false, "teredo"],
  ["not-an-address", false, "invalid"],
];

describe("egress address policy", () => {
  it.each(TABLE)("%s → allowed %s (%s)", (address, allowed, cls) => {
    expect(classifyAddress(address)).toBe(cls);
    expect(judgeAddress(address, [])).toEqual({ allowed, reason: cls });
  });

  it("an operator range lets exactly that range through, and nothing next to it", () => {
    const allow = parseAllowCidrs("127.0.0.0/8, 10.1.0.0/16 ::1");
    expect(judgeAddress("127.0.0.1", allow)).toEqual({ allowed: true, reason: "allow-listed" });
    expect(judgeAddress("::ffff:127.0.0.1", allow)).toEqual({ allowed: true, reason: "allow-listed" });
    expect(judgeAddress("::1", allow)).toEqual({ allowed: true, reason: "allow-listed" });
    expect(judgeAddress("10.1.200.3", allow)).toEqual({ allowed: true, reason: "allow-listed" });
    expect(judgeAddress("10.2.0.1", allow)).toEqual({ allowed: false, reason: "private" });
    expect(judgeAddress("169.254.169.254", allow)).toEqual({ allowed: false, reason: "linkLocal" });
    expect(judgeAddress("93.184.216.34", allow)).toEqual({ allowed: true, reason: "unicast" });
  });

  it("an empty setting allows nothing extra; a bad entry is an error naming its position, not its value", () => {
    expect(parseAllowCidrs(undefined)).toEqual([]);
    expect(parseAllowCidrs("  ")).toEqual([]);
    expect(() => parseAllowCidrs("10.0.0.0/8,secret-ish-garbage")).toThrow(EgressRefusedError);
    expect(() => parseAllowCidrs("10.0.0.0/8,secret-ish-garbage")).toThrow("entry 2 is not an address or CIDR range");
    try {
      parseAllowCidrs("secret-ish-garbage");
    } catch (err) {
      expect(String((err as Error).message)).not.toContain("secret-ish-garbage");
    }
  });
});
