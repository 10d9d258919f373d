import { describe, expect, it } from "vitest";
import {
  effectiveMembers,
  type MemberChange,
  parseMemberRecord,
  planMemberChange,
} from "../../src/members/live.js";
import type { Member } from "../../src/members/members.js";

const self = { name: "n1", address: "10.0.0.1", statusPort: 24800 };
const seed: Member[] = [
  { name: "n2", address: "10.0.0.2" },
  { name: "n3", address: "10.0.0.3" },
];
const rec = (over: object) =>
  ({ at: 1, by: "n1", ...over }) as Parameters<typeof effectiveMembers>[1][number];

describe("effective members", () => {
  it.each([
    ["the seed alone, with this node", [], ["n1", "n2", "n3"]],
    ["a record adds a member", [rec({ name: "n4", address: "10.0.0.4" })], ["n1", "n2", "n3", "n4"]],
    ["a removed record takes a seed member out", [rec({ name: "n3", removed: true })], ["n1", "n2"]],
    ["this node stays, whatever a record says", [rec({ name: "n1", removed: true })], ["n1", "n2", "n3"]],
  ])("%s", (_what, records, want) => {
    expect(effectiveMembers(seed, records, self).map((m) => m.name)).toEqual(want);
  });

  it("a record's address wins over the seed's", () => {
    const list = effectiveMembers(seed, [rec({ name: "n2", address: "10.9.9.2", statusPort: 7000 })], self);
    expect(list.find((m) => m.name === "n2")).toEqual({ name: "n2", address: "10.9.9.2", statusPort: 7000 });
  });
});

const current = effectiveMembers(seed, [], self);
const ctx = { self: "n1", servers: ["n1", "n2"], defaultStatusPort: 24800 };

describe("planning a member change (checked on a copy)", () => {
  it.each<[string, MemberChange, string[]]>([
    [
      "add a new member",
      { op: "add", member: { name: "n4", address: "10.0.0.4" } },
      ["n1", "n2", "n3", "n4"],
    ],
    ["remove one that does not serve", { op: "rm", name: "n3" }, ["n1", "n2"]],
  ])("%s", (_what, change, want) => {
    const before = JSON.stringify(current);
    expect(planMemberChange(current, change, ctx).map((m) => m.name)).toEqual(want);
    expect(JSON.stringify(current)).toBe(before);
  });

  it("adding a member exactly as it is changes nothing", () => {
    expect(
      planMemberChange(
        current,
        { op: "add", member: { name: "n2", address: "10.0.0.2", statusPort: 24800 } },
        ctx,
      ),
    ).toBe(current);
  });

  it.each<[string, MemberChange, RegExp, string]>([
    [
      "a name taken at another address",
      { op: "add", member: { name: "n2", address: "10.0.0.9" } },
      /n2 is already a member at 10.0.0.2:24800/,
      "E_MEMBER_EXISTS",
    ],
    [
      "an address and port taken",
      { op: "add", member: { name: "n4", address: "10.0.0.3" } },
      /10.0.0.3:24800 is already n3's/,
      "E_MEMBER_ADDRESS",
    ],
    ["removing a server", { op: "rm", name: "n2" }, /retire it first/, "E_MEMBER_SERVES"],
    ["removing this node", { op: "rm", name: "n1" }, /is this node/, "E_USAGE"],
    ["removing a stranger", { op: "rm", name: "n9" }, /n9 is not a member/, "E_NO_MEMBER"],
  ])("refuses %s", (_what, change, problem, code) => {
    expect(() => planMemberChange(current, change, ctx)).toThrow(problem);
    try {
      planMemberChange(current, change, ctx);
    } catch (err) {
      expect((err as { code: string }).code).toBe(code);
    }
  });
});

describe("member records", () => {
  it("reads one, and names a damaged one", () => {
    expect(parseMemberRecord('{"name":"n4","address":"10.0.0.4","at":1,"by":"n1"}', "f")).toMatchObject({
      name: "n4",
    });
    expect(() => parseMemberRecord("{", "/x/.hfs/members/n4.json")).toThrow(/n4.json is damaged/);
    expect(() => parseMemberRecord('{"name":"n4","at":1,"by":"n1"}', "f")).toThrow(/not a member record/);
  });
});
