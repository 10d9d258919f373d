import { spawn, spawnSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLI, hfs, tempDir } from "../helpers/cli.js";
import { sleep } from "../helpers/cluster.js";
import { freePort } from "../helpers/gluster.js";
import { NotifyListener } from "../helpers/notify-socket.js";

let t: Awaited<ReturnType<typeof tempDir>>;
let state: string;
beforeEach(async () => {
  t = await tempDir();
  state = join(t.dir, "state");
  const port = String(await freePort());
  const r = await hfs(state, [
    "setup",
    "--name",
    "n1",
    "--address",
    "127.0.0.1",
    "--status-port",
    port,
    "--engine",
    "dir",
    "--dir",
    join(t.dir, "cfg"),
  ]);
  expect(r.code, r.stderr).toBe(0);
});
afterEach(async () => {
  await t.cleanup();
});

describe("running as a systemd service", () => {
  it("install-service writes a unit systemd accepts, once; --print shows it", async () => {
    const units = join(t.dir, "units");
    const first = await hfs(state, ["install-service", "--unit-dir", units]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^wrote .*hfs-config.service/);
    const file = join(units, "hfs-config.service");
    const text = await readFile(file, "utf8");
    expect(text).toContain(`ExecStart=${process.execPath} ${CLI} --state-dir ${state} daemon`);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect((await hfs(state, ["install-service", "--unit-dir", units])).stdout).toMatch(/^unchanged:/);
    expect((await hfs(state, ["install-service", "--print"])).stdout).toBe(text);
    if (spawnSync("systemd-analyze", ["--version"]).status === 0) {
      const v = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
      expect(v.stderr + v.stdout).toBe("");
    }
  });

  it("install-service on a node not set up is refused, and writes nothing", async () => {
    const r = await hfs(join(t.dir, "none"), ["install-service", "--unit-dir", join(t.dir, "u2")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not set up/);
    await expect(stat(join(t.dir, "u2"))).rejects.toThrow();
  });

  it("the daemon tells NOTIFY_SOCKET it is ready, its state, and that it stops", async () => {
    const l = NotifyListener.open(join(t.dir, "notify"));
    const child = spawn(process.execPath, [CLI, "daemon"], {
      env: { ...process.env, HFS_STATE_DIR: state, NOTIFY_SOCKET: l.path },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    const exited = new Promise((r) => child.once("exit", r));
    try {
      for (let i = 0; i < 100 && !l.lines().includes("READY=1"); i++) await sleep(100);
      expect(l.lines(), err).toContain("READY=1");
      expect(l.lines()).toContain("STATUS=ready, healthy");
      child.kill("SIGTERM");
      await exited;
      expect(l.lines()).toContain("STOPPING=1");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      l.close();
    }
  });
});
