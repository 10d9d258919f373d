import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { membersFromPeers } from "../../src/members/from-peers.js";
import { parseMembersFile, withSelf } from "../../src/members/members.js";
import { parsePeerStatus } from "../../src/members/peer-status.js";

describe("parseMembersFile", () => {
  it.each([
    ["n1 10.0.0.1\n", [{ name: "n1", address: "10.0.0.1" }]],
    [
      "n1 10.0.0.1:7000 # first\n\n# comment\nn2 host-2.example\n",
      [
        { name: "n1", address: "10.0.0.1", statusPort: 7000 },
        { name: "n2", address: "host-2.example" },
      ],
    ],
    ["  n1\t127.0.0.1:24800  \r\n", [{ name: "n1", address: "127.0.0.1", statusPort: 24800 }]],
    [
      "n1 [fd00::1]:7000\nn2 fd00::2\n",
      [
        { name: "n1", address: "fd00::1", statusPort: 7000 },
        { name: "n2", address: "fd00::2" },
      ],
    ],
    ["# nothing\n", []],
  ])("%j", (text, want) => {
    expect(parseMembersFile(text, "m.txt", 24800)).toEqual(want);
  });

  it.each([
    ["n1\n", /line 1: expected 2 fields, found 1/],
    ["n1 10.0.0.1 extra\n", /line 1: expected 2 fields, found 3/],
    ["N1 10.0.0.1\n", /line 1: invalid member name/],
    ["n1 10.0.0.1\nn1 10.0.0.2\n", /line 2: member n1 is already listed on line 1/],
    ["n1 10.0.0.1:99999\n", /invalid status port/],
    ["n1 10.0.0.1:x\n", /invalid status port/],
    ["n1 bad_host!\n", /invalid member address/],
    ["n1 10.0.0.1\nn2 10.0.0.1\n", /line 2: 10.0.0.1:24800 is already n1's, on line 1/],
    ["n1 10.0.0.1:24800\nn2 10.0.0.1\n", /line 2: 10.0.0.1:24800 is already n1's/],
    ["n1 Host.Example\nn2 host.example:24800\n", /line 2: host.example:24800 is already n1's/],
    ["n1 [FD00::1]:7000\nn2 [fd00::1]:7000\n", /line 2: \[fd00::1\]:7000 is already n1's/],
  ])("refuses %j", (text, problem) => {
    expect(() => parseMembersFile(text, "m.txt", 24800)).toThrow(problem);
    expect(() => parseMembersFile(text, "m.txt", 24800)).toThrow(/NAME ADDRESS\[:STATUS_PORT\]/);
  });

  it("lets two members share an address on different ports", () => {
    expect(parseMembersFile("n1 10.0.0.1:7000\nn2 10.0.0.1:7001\n", "m.txt", 24800)).toHaveLength(2);
  });

  it("always includes the local node", () => {
    const self = { name: "n2", address: "10.0.0.2", statusPort: 1 };
    expect(withSelf([{ name: "n1", address: "10.0.0.1" }], self).map((m) => m.name)).toEqual(["n1", "n2"]);
    expect(withSelf([{ name: "n2", address: "old" }], self)).toEqual([self]);
  });
});

const CONNECTED = `Number of Peers: 2

Hostname: node2.example.com
Uuid: 5e987bda-16dd-43c2-835b-08b7d55e94e5
State: Peer in Cluster (Connected)

Hostname: 10.0.0.3
Uuid: 1e0ca3aa-9ef7-4f66-8f15-cbc348f29ff7
State: Peer in Cluster (Disconnected)
`;

const OTHER_NAMES = `Number of Peers: 1

Hostname: node2
Uuid: 5e987bda-16dd-43c2-835b-08b7d55e94e5
State: Peer in Cluster (Connected)
Other names:
192.168.1.2
node2.storage.lan
`;

describe("parsePeerStatus", () => {
  it("reads connected and disconnected peers", () => {
    const peers = parsePeerStatus(CONNECTED);
    expect(peers.map((p) => [p.hostname, p.connected])).toEqual([
      ["node2.example.com", true],
      ["10.0.0.3", false],
    ]);
    expect(membersFromPeers(peers)).toEqual([
      { name: "node2", address: "node2.example.com" },
      { name: "10-0-0-3", address: "10.0.0.3" },
    ]);
  });
  it("reads other names", () => {
    const [p] = parsePeerStatus(OTHER_NAMES);
    expect(p?.otherNames).toEqual(["192.168.1.2", "node2.storage.lan"]);
  });
  it("reads no peers", () => {
    expect(parsePeerStatus("Number of Peers: 0\n")).toEqual([]);
  });
  it.each([
    ["Uuid: x\n", /before any 'Hostname:'/],
    ["Hostname: a\nState: x\n", /has no Uuid/],
    ["garbage here\n", /unexpected line/],
  ])("refuses %j", (text, problem) => {
    expect(() => parsePeerStatus(text)).toThrow(problem);
  });
});

/** Real `gluster peer status` output, captured from three GlusterFS 10.3 glusterds here (see fixtures/.../HOW.md). */
describe("parsePeerStatus on real GlusterFS 10.3 output", () => {
  const fixture = (name: string) =>
    readFileSync(join(import.meta.dirname, "fixtures", "gluster-peer-status", name), "utf8");
  it.each([
    ["peer-status-none.txt", [], []],
    [
      "peer-status-connected.txt",
      [
        ["10.77.0.2", true],
        ["10.77.0.3", true],
      ],
      [
        { name: "10-77-0-2", address: "10.77.0.2" },
        { name: "10-77-0-3", address: "10.77.0.3" },
      ],
    ],
    [
      "peer-status-disconnected.txt",
      [
        ["10.77.0.2", true],
        ["10.77.0.3", false],
      ],
      [
        { name: "10-77-0-2", address: "10.77.0.2" },
        { name: "10-77-0-3", address: "10.77.0.3" },
      ],
    ],
    [
      "peer-status-hostname.txt",
      [
        ["10.77.0.2", true],
        ["pcap-node3.example", true],
      ],
      [
        { name: "10-77-0-2", address: "10.77.0.2" },
        { name: "pcap-node3", address: "pcap-node3.example" },
      ],
    ],
    [
      "peer-status-mixed-from-pcap2.txt",
      [
        ["10.77.0.1", true],
        ["pcap-node3.example", false],
      ],
      [
        { name: "10-77-0-1", address: "10.77.0.1" },
        { name: "pcap-node3", address: "pcap-node3.example" },
      ],
    ],
  ] as const)("%s", (file, peers, members) => {
    const parsed = parsePeerStatus(fixture(file));
    expect(parsed.map((p) => [p.hostname, p.connected])).toEqual(peers);
    expect(membersFromPeers(parsed)).toEqual(members);
  });

  it("peer-status-other-names.txt: a peer probed by a second address keeps its first name", () => {
    const [, p3] = parsePeerStatus(fixture("peer-status-other-names.txt"));
    expect(p3).toMatchObject({ hostname: "pcap-node3.example", connected: true, otherNames: ["10.77.0.3"] });
  });
});
