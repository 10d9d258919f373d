import { describe, expect, it } from "vitest";
import { loadVolfileTemplates, renderClientVolfile } from "../../src/gluster/volfile.js";
import {
  type Copy,
  chooseSource,
  errnoOf,
  nodeOfClient,
  parseClientVolfile,
  parseGetfattr,
  parseGfidMismatches,
  parseGlfshealInfo,
  parseSplitBrainStatus,
  repairVolfileText,
  singleBrickVolfileText,
  statusKind,
} from "../../src/heal/split-brain-parse.js";

describe("parseSplitBrainStatus / statusKind", () => {
  const cases: [string, ReturnType<typeof parseSplitBrainStatus>, string | undefined][] = [
    [
      "data-split-brain:yes    metadata-split-brain:no    Choices:sb-client-a,sb-client-b,sb-client-c",
      { data: true, metadata: false, choices: ["sb-client-a", "sb-client-b", "sb-client-c"] },
      "data",
    ],
    [
      '"data-split-brain:no    metadata-split-brain:yes    Choices:test-client-0,test-client-1"',
      { data: false, metadata: true, choices: ["test-client-0", "test-client-1"] },
      "metadata",
    ],
    [
      "data-split-brain:yes    metadata-split-brain:yes    Choices:v-client-x",
      { data: true, metadata: true, choices: ["v-client-x"] },
      "data+metadata",
    ],
    [
      "The file is not under data or metadata split-brain",
      { data: false, metadata: false, choices: [] },
      undefined,
    ],
    [
      "data-split-brain:no    metadata-split-brain:no",
      { data: false, metadata: false, choices: [] },
      undefined,
    ],
  ];
  it.each(cases)("%s", (text, parsed, kind) => {
    const s = parseSplitBrainStatus(text);
    expect(s).toEqual(parsed);
    expect(s === undefined ? undefined : statusKind(s)).toBe(kind);
  });
  it("returns undefined for text it does not know", () => {
    expect(parseSplitBrainStatus("something else")).toBeUndefined();
  });
});

describe("parseGetfattr", () => {
  it("reads values per file and errors from stderr", () => {
    const stdout = [
      "# file: /m/d2",
      'replica.split-brain-status="data-split-brain:yes    metadata-split-brain:no    Choices:v-client-a"',
      "",
      "# file: /m/with\\040space",
      'replica.split-brain-status="The file is not under data or metadata split-brain"',
      "",
    ].join("\n");
    const stderr =
      "getfattr: /m/dir/g1: Input/output error\ngetfattr: /m/x: Transport endpoint is not connected\n";
    const m = parseGetfattr(stdout, stderr, "replica.split-brain-status");
    expect(m.get("/m/d2")).toEqual({
      value: "data-split-brain:yes    metadata-split-brain:no    Choices:v-client-a",
    });
    expect(m.get("/m/with space")).toEqual({ value: "The file is not under data or metadata split-brain" });
    expect(m.get("/m/dir/g1")).toEqual({ error: "Input/output error" });
    expect(errnoOf("Input/output error")).toBe("EIO");
    expect(errnoOf((m.get("/m/x") as { error: string }).error)).toBe("ENOTCONN");
    expect(errnoOf("No such file or directory")).toBe("ENOENT");
    expect(errnoOf("weird")).toBeUndefined();
  });
});

describe("parseGfidMismatches", () => {
  it("collects every brick's gfid for an entry from AFR's log lines (as seen on 10.3)", () => {
    const log = [
      "[2026-11-21 08:00:13.252431 +0000] E [MSGID: 108008] [afr-self-heal-common.c:386:afr_gfid_split_brain_source] 0-sb-replicate-0: Gfid mismatch detected for <gfid:f5ed3fac-aab9-4b8f-b6f0-7e00bbe08fec>/g1>, 94bcdeae-87dc-4830-ad27-9c558058b0fa on sb-client-c and c49f9a9a-fbee-4b83-b145-ccacde70d5e0 on sb-client-b. ",
      "[2026-11-21 08:00:13.259333 +0000] E [MSGID: 108008] [afr-self-heal-common.c:386:afr_gfid_split_brain_source] 0-sb-replicate-0: Gfid mismatch detected for <gfid:f5ed3fac-aab9-4b8f-b6f0-7e00bbe08fec>/g1>, 94bcdeae-87dc-4830-ad27-9c558058b0fa on sb-client-c and c49f9a9a-fbee-4b83-b145-ccacde70d5e0 on sb-client-a. ",
      "unrelated line",
    ].join("\n");
    const m = parseGfidMismatches(log);
    expect([...m.keys()]).toEqual(["f5ed3fac-aab9-4b8f-b6f0-7e00bbe08fec/g1"]);
    const e = m.get("f5ed3fac-aab9-4b8f-b6f0-7e00bbe08fec/g1");
    expect(e?.name).toBe("g1");
    expect(Object.fromEntries(e?.gfids ?? [])).toEqual({
      "sb-client-a": "c49f9a9a-fbee-4b83-b145-ccacde70d5e0",
      "sb-client-b": "c49f9a9a-fbee-4b83-b145-ccacde70d5e0",
      "sb-client-c": "94bcdeae-87dc-4830-ad27-9c558058b0fa",
    });
  });
});

describe("parseGlfshealInfo", () => {
  it("reads bricks and their split-brain entries", () => {
    const out = [
      "Brick 127.0.0.1:sb-brick",
      "<gfid:a2372e99-b6be-471d-9430-912868c4a5c1>",
      "/dir",
      "Status: Connected",
      "Number of entries in split-brain: 2",
      "",
      "Brick 127.0.0.3:sb-brick",
      "Status: Transport endpoint is not connected",
      "Number of entries in split-brain: -",
      "",
    ].join("\n");
    expect(parseGlfshealInfo(out)).toEqual([
      {
        brick: "127.0.0.1:sb-brick",
        status: "Connected",
        entries: ["<gfid:a2372e99-b6be-471d-9430-912868c4a5c1>", "/dir"],
      },
      { brick: "127.0.0.3:sb-brick", status: "Transport endpoint is not connected", entries: [] },
    ]);
  });
});

/** The client volfile of volume cfg on two servers, listed out of order. */
async function twoServerClientVolfile(): Promise<string> {
  const t = await loadVolfileTemplates();
  return renderClientVolfile(t.client, {
    volume: "cfg",
    volumeId: "0f2c7a52-8d3e-4f7e-9a55-3c1f0b6a2d11",
    servers: [
      { name: "node-b", address: "10.0.0.2", port: 24008 },
      { name: "node-a", address: "10.0.0.1", port: 24007 },
    ],
  });
}

describe("client volfile helpers", () => {
  it("parses protocol/client sections and makes the repair volfile (quorum-type none only)", async () => {
    const text = await twoServerClientVolfile();
    expect(parseClientVolfile(text)).toEqual([
      { name: "cfg-client-node-a", host: "10.0.0.1", port: 24007, subvolume: "cfg-brick-node-a" },
      { name: "cfg-client-node-b", host: "10.0.0.2", port: 24008, subvolume: "cfg-brick-node-b" },
    ]);
    const repair = repairVolfileText(text);
    expect(repair).toMatch(/option quorum-type none/);
    expect(repair).not.toMatch(/quorum-type auto/);
    expect(repair.replace("quorum-type none", "quorum-type auto")).toBe(text);
    const noOption = text.replace(/^\s*option quorum-type auto\n/m, "");
    expect(repairVolfileText(noOption)).toMatch(/type cluster\/replicate\n\s*option quorum-type none/);
    expect(() => repairVolfileText("volume x\n type debug/io-stats\nend-volume\n")).toThrow(
      /cluster\/replicate/,
    );
  });

  it("singleBrickVolfileText keeps one protocol/client and nothing above it; an unknown node is an error", async () => {
    const text = await twoServerClientVolfile();
    const one = singleBrickVolfileText(text, "cfg", "node-b");
    expect(parseClientVolfile(one)).toEqual([
      { name: "cfg-client-node-b", host: "10.0.0.2", port: 24008, subvolume: "cfg-brick-node-b" },
    ]);
    expect(one).not.toMatch(/cluster\/replicate|debug\/io-stats|node-a/);
    expect(one.trim().split("\n").at(-1)).toBe("end-volume");
    expect(() => singleBrickVolfileText(text, "cfg", "node-c")).toThrow(
      /no protocol\/client section 'cfg-client-node-c'/,
    );
    expect(() => singleBrickVolfileText(text, "other", "node-a")).toThrow(
      /E_VOLFILE_NO_CLIENT|other-client-node-a/,
    );
  });

  it.each([
    ["cfg", "cfg-client-node-a", "node-a"],
    ["cfg", "other-client-node-a", undefined],
    ["cfg", "cfg-client-", undefined],
    [undefined, "cfg-client-node-a", "node-a"],
    [undefined, "test-client-0", "0"],
    [undefined, "nope", undefined],
  ])("nodeOfClient(%s, %s) = %s", (volume, client, node) => {
    expect(nodeOfClient(volume, client)).toBe(node);
  });
});

describe("chooseSource", () => {
  const c = (node: string, digest: string, generation?: number): Copy => ({ node, digest, generation });
  const cases: { name: string; copies: Copy[]; node: string; why: RegExp }[] = [
    {
      name: "2 of 3 agree: the majority wins even against a newer generation",
      copies: [c("a", "x", 5), c("b", "x", 4), c("c", "y", 9)],
      node: "a",
      why: /^majority: 2 of 3 copies \(a, b\) are identical; source a \(generation 5\)$/,
    },
    {
      name: "within the majority the newest generation is the source",
      copies: [c("a", "x", 5), c("b", "x", 7), c("c", "y", 9)],
      node: "b",
      why: /majority: 2 of 3 .*source b/,
    },
    {
      name: "three different copies: the highest generation decides",
      copies: [c("a", "x", 5), c("b", "y", 8), c("c", "z", 7)],
      node: "b",
      why: /^tie between \[b\] vs \[c\] vs \[a\]: highest hfs generation 8 is on b$/,
    },
    {
      name: "1 vs 1 (one brick unreadable): the highest generation decides",
      copies: [c("a", "x", 3), c("c", "y", 4)],
      node: "c",
      why: /tie .*generation 4 is on c/,
    },
    {
      name: "tie with equal generations: smallest node name, deterministically",
      copies: [c("c", "y", 4), c("b", "x", 4)],
      node: "b",
      why: /equal generations: smallest node name/,
    },
    {
      name: "unknown generation loses a tie",
      copies: [c("a", "x"), c("b", "y", 0)],
      node: "b",
      why: /generation 0 is on b/,
    },
    {
      name: "all identical",
      copies: [c("b", "d", 1), c("a", "d", 1), c("c", "d", 1)],
      node: "a",
      why: /^all 3 copies \(a, b, c\) are identical/,
    },
    { name: "a single copy", copies: [c("c", "d")], node: "c", why: /^only copy available \(c\)$/ },
  ];
  it.each(cases)("$name", ({ copies, node, why }) => {
    const r = chooseSource(copies);
    expect(r.node).toBe(node);
    expect(r.why).toMatch(why);
    // The order of the input does not matter.
    expect(chooseSource([...copies].reverse())).toEqual(r);
  });
  it("refuses no copies and duplicate nodes", () => {
    expect(() => chooseSource([])).toThrow(expect.objectContaining({ code: "E_SPLIT_BRAIN_NO_COPIES" }));
    expect(() => chooseSource([c("a", "x"), c("a", "y")])).toThrow(
      expect.objectContaining({ code: "E_SPLIT_BRAIN_DUPLICATE_COPY" }),
    );
  });
});
