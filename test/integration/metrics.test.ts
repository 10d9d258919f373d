import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLI, hfs, tempDir } from "../helpers/cli.js";
import { sleep } from "../helpers/cluster.js";
import { freePort } from "../helpers/gluster.js";
import { parsePromText } from "../helpers/prom-text.js";

let t: Awaited<ReturnType<typeof tempDir>>;
let state: string;
let port: number;
let daemon: ReturnType<typeof spawn> | undefined;

beforeEach(async () => {
  t = await tempDir();
  state = join(t.dir, "state");
  port = await freePort();
  const r = await hfs(state, [
    "setup",
    "--name",
    "n1",
    "--address",
    "127.0.0.1",
    "--status-port",
    String(port),
    "--engine",
    "dir",
    "--dir",
    join(t.dir, "cfg"),
  ]);
  expect(r.code, r.stderr).toBe(0);
  daemon = spawn(process.execPath, [CLI, "daemon"], {
    env: { ...process.env, HFS_STATE_DIR: state },
    stdio: "ignore",
  });
});
afterEach(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon?.once("exit", r));
    daemon.kill("SIGTERM");
    await Promise.race([exited, sleep(10_000)]);
    if (daemon.exitCode === null) daemon.kill("SIGKILL");
  }
  await t.cleanup();
});

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0.0.4/);
  return parsePromText(await res.text());
}

describe("GET /metrics", () => {
  it("is Prometheus text whose gauges agree with status and whose counters follow the writes", async () => {
    let m: Map<string, number> | undefined;
    for (let i = 0; i < 100; i++) {
      m = await scrape().catch(() => undefined);
      if (m?.get("hfs_ready") === 1) break;
      await sleep(100);
    }
    expect(m?.get("hfs_up")).toBe(1);
    expect(m?.get("hfs_ready")).toBe(1);
    expect([...(m?.keys() ?? [])].some((k) => k.startsWith("hfs_build_info{version="))).toBe(true);

    expect((await hfs(state, ["set", "a", "1"])).code).toBe(0);
    expect((await hfs(state, ["set", "a", "2", "--if-version", "9"])).code).toBe(4);
    expect((await hfs(state, ["rm", "a"])).code).toBe(0);
    const after = await scrape();
    expect(after.get('hfs_writes_total{op="set",outcome="ok"}')).toBe(1);
    expect(after.get('hfs_writes_total{op="set",outcome="refused"}')).toBe(1);
    expect(after.get('hfs_writes_total{op="rm",outcome="ok"}')).toBe(1);
    expect(after.get('hfs_write_seconds_count{op="set"}')).toBe(2);
    // The daemon reads the generation on its next round (a second at most).
    const st = JSON.parse((await hfs(state, ["status", "--json"])).stdout);
    let gen = after.get("hfs_generation");
    for (let i = 0; i < 50 && gen !== st.generation; i++) {
      await sleep(100);
      gen = (await scrape()).get("hfs_generation");
    }
    expect(gen).toBe(st.generation);
    expect(after.get("hfs_tick_seconds_count")).toBeGreaterThan(0);
  });

  it("other paths are 404 and other methods 405, as before", async () => {
    for (let i = 0; i < 100 && !(await scrape().catch(() => undefined)); i++) await sleep(100);
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" })).status).toBe(405);
  });
});
