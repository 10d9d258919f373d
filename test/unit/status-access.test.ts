import { describe, expect, it } from "vitest";
import { cachedResolve, parseStatusAllow, statusReaderAllowed } from "../../src/daemon/status-access.js";

const MEMBERS = [
  { name: "n1", address: "10.0.0.1" },
  { name: "n2", address: "fd00::2" },
  { name: "n3", address: "store-3.example" },
];
const DNS: Record<string, string[]> = { "store-3.example": ["10.0.0.3", "fd00::3"] };
const resolve = async (h: string) => {
  const a = DNS[h];
  if (!a) throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
  return a;
};

describe("who may read the status port", () => {
  it.each([
    ["127.0.0.1", true, "loopback"],
    ["::1", true, "IPv6 loopback"],
    ["::ffff:127.0.0.1", true, "loopback on a dual-stack socket"],
    ["10.0.0.1", true, "a member by address"],
    ["::ffff:10.0.0.1", true, "a member on a dual-stack socket"],
    ["fd00::2", true, "a member by IPv6 address"],
    ["10.0.0.3", true, "a member by host name"],
    ["fd00::3", true, "a member by host name, IPv6"],
    ["fd00:0:0:0:0:0:0:2", true, "a member's IPv6 address spelt out"],
    ["FD00::2", true, "a member's IPv6 address in capitals"],
    ["10.0.0.50", true, "a monitor in HFS_STATUS_ALLOW"],
    ["10.0.0.9", false, "anyone else"],
    ["::ffff:10.0.0.9", false, "anyone else, dual-stack"],
    [undefined, false, "a socket already gone"],
  ] as const)("%s: %s (%s)", async (remote, want, _why) => {
    expect(await statusReaderAllowed(remote, MEMBERS, new Set(["10.0.0.50"]), resolve)).toBe(want);
  });

  it("a member whose name does not resolve lets no one in by it", async () => {
    const members = [{ name: "n4", address: "gone.example" }];
    expect(await statusReaderAllowed("10.0.0.4", members, new Set(), resolve)).toBe(false);
  });

  it("HFS_STATUS_ALLOW takes comma-separated IP addresses and refuses anything else by name", () => {
    expect([...parseStatusAllow(" 10.0.0.50, fd00::05 ,")]).toEqual(["10.0.0.50", "fd00::5"]);
    expect([...parseStatusAllow(undefined)]).toEqual([]);
    expect(() => parseStatusAllow("10.0.0.50,monitor.example")).toThrow(
      /HFS_STATUS_ALLOW: "monitor.example" is not an IP address/,
    );
  });

  it("resolves each member's host name at most once per 30 s, however many strangers ask", async () => {
    let lookups = 0;
    let t = 0;
    const slow = cachedResolve(
      async (h) => {
        lookups++;
        return resolve(h);
      },
      () => t,
    );
    const asks = Array.from({ length: 50 }, () => statusReaderAllowed("10.0.0.9", MEMBERS, new Set(), slow));
    expect(await Promise.all(asks)).toEqual(Array(50).fill(false));
    expect(lookups).toBe(1);
    expect(await statusReaderAllowed("10.0.0.3", MEMBERS, new Set(), slow)).toBe(true);
    expect(lookups).toBe(1);
    t += 30_001;
    await statusReaderAllowed("10.0.0.9", MEMBERS, new Set(), slow);
    expect(lookups).toBe(2);
  });
});
