import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readinessNotifier, readinessOf } from "../../src/daemon/readiness.js";
import { sdNotify } from "../../src/native/sd-notify.js";
import { renderUnit } from "../../src/node/service-unit.js";
import type { Discrepancy, Plan } from "../../src/plan/types.js";
import { NotifyListener } from "../helpers/notify-socket.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hfs-unit-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

describe("the systemd unit", () => {
  it.each([
    ["/var/lib/hfs-config", "--state-dir /var/lib/hfs-config daemon"],
    ["/srv/hfs config", '--state-dir "/srv/hfs config" daemon'],
    ["/srv/100%", '--state-dir "/srv/100%%" daemon'],
    ["/srv/$HOME", '--state-dir "/srv/$$HOME" daemon'],
  ])("runs this installation's daemon for state dir %j", (stateDir, tail) => {
    const text = renderUnit({ node: "/usr/bin/node", cli: "/opt/hfs/dist/cli/hfs-config.js", stateDir });
    expect(text).toContain(`ExecStart=/usr/bin/node /opt/hfs/dist/cli/hfs-config.js ${tail}\n`);
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^KillMode=mixed$/m);
    expect(text).toMatch(/^Restart=on-failure$/m);
  });

  it.skipIf(!hasAnalyze)("passes systemd-analyze verify with nothing to say", async () => {
    const file = join(dir, "hfs-config.service");
    await writeFile(
      file,
      renderUnit({ node: process.execPath, cli: "/opt/x.js", stateDir: "/var/lib/hfs config" }),
    );
    const r = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    expect(r.stderr + r.stdout).toBe("");
    expect(r.status).toBe(0);
    // And the check itself can fail: a unit it does not accept is reported.
    await writeFile(
      file,
      renderUnit({ node: process.execPath, cli: "/x", stateDir: "/s" }).replace("mixed", "bogus"),
    );
    expect(spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" }).stderr).toMatch(/kill mode/i);
  });
});

const plan = (discrepancies: Discrepancy[]): Plan => ({
  discrepancies,
  actions: [],
  writable: true,
  settled: true,
});

describe("readiness", () => {
  it.each([
    ["ready and healthy", plan([]), true, { ready: true, status: "ready, healthy" }],
    [
      "ready with a server down",
      plan([{ kind: "server-down", node: "n2", detail: "n2 down" }]),
      true,
      { ready: true, status: "ready; server-down" },
    ],
    [
      "no server anywhere: nothing to wait for but an administrator",
      plan([{ kind: "no-servers", detail: "waiting for one ('hfs-config serve')" }]),
      false,
      { ready: true, status: "not serving config: waiting for one ('hfs-config serve')" },
    ],
    [
      "mounting",
      plan([
        { kind: "mount-mismatch", mounted: [], markers: ["n1"], detail: "mounted [] but markers say [n1]" },
      ]),
      false,
      { ready: false, status: "starting: mounted [] but markers say [n1]" },
    ],
  ])("%s", (_what, p, ready, want) => {
    expect(readinessOf(p, ready)).toEqual(want);
  });

  it("sends READY=1 once, and STATUS= only when it changes", () => {
    const sent: string[] = [];
    const n = readinessNotifier((s) => sent.push(s));
    n({ ready: false, status: "starting: x" });
    n({ ready: false, status: "starting: x" });
    n({ ready: true, status: "ready, healthy" });
    n({ ready: true, status: "ready, healthy" });
    n({ ready: true, status: "ready; server-down" });
    expect(sent).toEqual([
      "STATUS=starting: x",
      "STATUS=ready, healthy\nREADY=1",
      "STATUS=ready; server-down",
    ]);
  });
});

describe("sd_notify", () => {
  it("sends to NOTIFY_SOCKET, and does nothing without it", () => {
    const l = NotifyListener.open(join(dir, "notify"));
    try {
      expect(sdNotify("READY=1\nSTATUS=hi", { NOTIFY_SOCKET: l.path })).toBe(true);
      expect(sdNotify("READY=1", {})).toBe(false);
      expect(l.lines()).toEqual(["READY=1", "STATUS=hi"]);
    } finally {
      l.close();
    }
  });
});
