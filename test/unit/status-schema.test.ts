import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpStatusFetcher } from "../../src/daemon/peers.js";
import { checkStatusReport } from "../../src/daemon/status-schema.js";
import type { StatusReport } from "../../src/daemon/wire.js";

const REPORT: StatusReport = {
  name: "n2",
  address: "127.0.0.1",
  server: true,
  retired: false,
  ready: true,
  brick: { address: "127.0.0.1", port: 24801 },
  mounted: ["n1", "n2", "n3"],
  generation: 12,
  version: "0.1.0",
  engine: "gluster",
  volumeId: "ebbdde23-c42f-4afa-bfd3-a64f68ad3cac",
  brickGeneration: 12,
  pendingHeals: null,
  markers: ["n1", "n2", "n3"],
  tombstones: [],
  discrepancies: [],
  alive: ["n1", "n2", "n3"],
  crawl: null,
  suspectsSplitBrain: false,
  splitBrainSearchedAt: null,
};

describe("a peer's status answer", () => {
  it("accepts a daemon's report, and fields a newer daemon adds", () => {
    expect(checkStatusReport(REPORT)).toEqual({ ok: true, report: REPORT });
    const newer = { ...REPORT, somethingNew: { a: 1 } };
    expect(checkStatusReport(newer).ok).toBe(true);
  });

  it.each([
    [{ ...REPORT, server: "yes" }, /^server: expected boolean, got "yes"/],
    [{ ...REPORT, brick: { address: "127.0.0.1", port: 0 } }, /^brick\.port: /],
    [{ ...REPORT, brick: { address: "no such host!", port: 1 } }, /^brick\.address: /],
    [{ ...REPORT, volumeId: "x" }, /^volumeId: /],
    [{ ...REPORT, mounted: ["N 1"] }, /^mounted\.0: /],
    [{ ...REPORT, generation: -1 }, /^generation: /],
    [{ name: "n2" }, /^address: missing/],
    [[], /^the answer: expected an object/],
  ])("refuses %j", (raw, problem) => {
    const r = checkStatusReport(raw);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.problem).toMatch(problem);
  });
});

describe("httpStatusFetcher", () => {
  let srv: Server;
  let port: number;
  let body = "";
  beforeAll(async () => {
    srv = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    port = (srv.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => srv.close(r));
  });

  it.each([
    ["a report", JSON.stringify(REPORT), true, undefined],
    ["not JSON", "<html>hello</html>", false, /not JSON/],
    ["another service's JSON", JSON.stringify({ status: "ok" }), false, /^name: missing/],
  ])("%s", async (_what, answer, believed, problem) => {
    body = answer;
    const heard: string[] = [];
    const fetch = httpStatusFetcher(port, (m, p) => heard.push(`${m.name}: ${p}`));
    const got = await fetch({ name: "n2", address: "127.0.0.1" }, 2000);
    expect(got !== undefined).toBe(believed);
    if (problem) expect(heard.join("\n").replace(/^n2: /, "")).toMatch(problem);
    else expect(heard).toEqual([]);
  });
});
