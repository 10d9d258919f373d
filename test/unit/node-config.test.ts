import { describe, expect, it } from "vitest";
import { NodeConfigError } from "../../src/errors.js";
import { parseNodeConfig } from "../../src/node/config-schema.js";

const GOOD = {
  name: "n1",
  address: "10.0.0.1",
  statusPort: 24800,
  brickPort: 24801,
  engine: "gluster",
  members: [{ name: "n2", address: "10.0.0.2", statusPort: 7000 }],
  membersFrom: "file",
  volume: "hfs-config",
};

const text = (over: Record<string, unknown>) => JSON.stringify({ ...GOOD, ...over });

describe("node.json", () => {
  it("reads a good one, and fills what older files lack", () => {
    expect(parseNodeConfig(text({}), "node.json")).toEqual(GOOD);
    const { members: _m, membersFrom: _f, ...old } = GOOD;
    expect(parseNodeConfig(JSON.stringify(old), "node.json")).toEqual({
      ...old,
      members: [],
      membersFrom: "self",
    });
  });

  it("keeps a read group", () => {
    expect(parseNodeConfig(text({ readGroup: "hfs-readers" }), "node.json")).toEqual({
      ...GOOD,
      readGroup: "hfs-readers",
    });
  });

  it("drops fields it does not know (a newer version's), rather than refusing them", () => {
    expect(parseNodeConfig(text({ futureSetting: 1 }), "node.json")).toEqual(GOOD);
  });

  it.each([
    ["{", /not valid JSON/],
    ["[]", /the file must be a JSON object with this node's settings/],
    [text({ statusPort: "24800" }), /field 'statusPort' must be a TCP port number, but it holds "24800"/],
    [text({ brickPort: 70000 }), /field 'brickPort' must be a TCP port from 1 to 65535, but it holds 70000/],
    [text({ name: undefined }), /field 'name' is missing/],
    [text({ name: "N 1" }), /field 'name' must be a node name: lowercase/],
    [text({ engine: "zfs" }), /field 'engine' must be "gluster" or "dir", but it holds "zfs"/],
    [text({ engine: "dir" }), /must be complete: the dir engine needs its directory in 'dir'/],
    [text({ dir: "relative/path", engine: "dir" }), /field 'dir' must be an absolute directory path/],
    [text({ members: {} }), /field 'members' must be a list of members/],
    [
      text({ members: [{ name: "n2", address: "10.0.0.2", statusPort: 0 }] }),
      /field 'members.0.statusPort' must be a TCP port from 1 to 65535, but it holds 0/,
    ],
    [text({ members: [{ name: "n2" }] }), /field 'members.0.address' is missing/],
    [
      text({
        members: [
          { name: "n2", address: "10.0.0.2" },
          { name: "n2", address: "10.0.0.3" },
        ],
      }),
      /a member name is listed twice/,
    ],
    [
      text({
        members: [
          { name: "n2", address: "10.0.0.2" },
          { name: "n3", address: "10.0.0.2", statusPort: 24800 },
        ],
      }),
      /two members in 'members' have the same address and status port/,
    ],
    [text({ volume: "Bad Volume" }), /field 'volume' must be a volume name/],
    [text({ readGroup: "Readers!" }), /field 'readGroup' must be a group name/],
    [text({ readGroup: 5 }), /field 'readGroup' must be a group name \(a string\)/],
  ])("refuses %s", (bad, problem) => {
    let err: unknown;
    try {
      parseNodeConfig(bad, "/var/lib/hfs-config/node.json");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NodeConfigError);
    const e = err as NodeConfigError;
    expect(e.message).toMatch(problem);
    expect(e.message).toMatch(/^\/var\/lib\/hfs-config\/node.json: /);
    expect(e.message).toMatch(/setup .*--force/);
    expect(e.code).toBe("E_BAD_NODE_CONFIG");
    expect(e.exitCode).toBe(1);
  });
});
