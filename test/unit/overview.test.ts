import { describe, expect, it } from "vitest";
import { buildOverview } from "../../src/daemon/overview.js";
import type { StatusReport } from "../../src/daemon/wire.js";

const SELF: StatusReport = {
  name: "n1",
  address: "10.0.0.1",
  server: true,
  retired: false,
  ready: true,
  brick: { address: "10.0.0.1", port: 24801 },
  mounted: ["n1", "n2", "n3"],
  generation: 7,
  version: "0.1.0",
  engine: "gluster",
  volumeId: null,
  brickGeneration: 7,
  pendingHeals: 0,
  markers: ["n1", "n2", "n3"],
  tombstones: [],
  discrepancies: [],
  alive: ["n1", "n2", "n3"],
  members: [
    { name: "n1", address: "10.0.0.1" },
    { name: "n2", address: "10.0.0.2" },
    { name: "n3", address: "10.0.0.3" },
  ],
};

describe("the status page's overview", () => {
  it("all answering: healthy, each member's role from its last answer", () => {
    const o = buildOverview(
      SELF,
      [
        { name: "n1", answered: true, server: true, ready: true },
        { name: "n2", answered: true, server: true, ready: false },
        { name: "n3", answered: true, server: false, retired: true, ready: true },
      ],
      1000,
    );
    expect(o.health.state).toBe("healthy");
    expect(o.members).toEqual([
      { name: "n1", address: "10.0.0.1", answered: true, server: true, ready: true, retired: false },
      { name: "n2", address: "10.0.0.2", answered: true, server: true, ready: false, retired: null },
      { name: "n3", address: "10.0.0.3", answered: true, server: false, ready: true, retired: true },
    ]);
  });

  it("a member that did not answer is unknown, not false; a server down makes it degraded", () => {
    const o = buildOverview(
      {
        ...SELF,
        discrepancies: [{ kind: "server-down", detail: "n3 is a marked server but does not serve now" }],
      },
      [{ name: "n3", answered: false }],
      1000,
    );
    expect(o.health.state).toBe("degraded");
    expect(o.members[2]).toEqual({
      name: "n3",
      address: "10.0.0.3",
      answered: false,
      server: null,
      ready: null,
      retired: null,
    });
  });

  it("nothing mounted: unavailable, as status says", () => {
    expect(buildOverview({ ...SELF, mounted: [] }, [], 0).health.state).toBe("unavailable");
  });
});
