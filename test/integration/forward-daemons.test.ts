import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordsOf } from "../../src/store/journal-types.js";
import { tempDir } from "../helpers/cli.js";
import { sleep, TestCluster } from "../helpers/cluster.js";
import { parsePromText } from "../helpers/prom-text.js";

/**
 * Three daemons on the dir engine over one shared directory (as on GlusterFS's shared storage):
 * every node's clients' writes go to one committer, the first member by name that takes them,
 * and when it goes the others commit their own at once.
 */
describe("one committer for the cluster's writes (dir engine, 3 daemons)", () => {
  let shared: Awaited<ReturnType<typeof tempDir>>;
  let c: TestCluster;
  const names = ["n1", "n2", "n3"];

  beforeAll(async () => {
    shared = await tempDir("hfs-shared-");
    c = await TestCluster.create(names, { setupArgs: ["--engine", "dir", "--dir", shared.dir] });
    for (const n of names) c.startDaemon(n);
    for (const n of names)
      await c.waitFor(`${n} handing its writes to n1`, async () => (await c.status(n))?.committer === "n1");
  });
  afterAll(async () => {
    await c?.cleanup();
    await shared?.cleanup();
  });

  /** Which node committed each journal entry, by the keys it set; and whose client asked, by key. */
  async function committedBy(origins = new Map<string, string>()): Promise<Map<string, string>> {
    const by = new Map<string, string>();
    const dir = join(shared.dir, ".hfs", "journal");
    for (const bucket of await readdir(dir))
      for (const f of await readdir(join(dir, bucket))) {
        const e = JSON.parse(await readFile(join(dir, bucket, f), "utf8"));
        for (const ev of e.events ?? []) by.set(ev.key, e.node);
        for (const r of recordsOf(e)) origins.set(r.key, r.node);
      }
    return by;
  }

  it("every node's writes are committed by n1, sealed with a key only the config fs holds", async () => {
    for (const n of names) {
      const r = await c.run(n, ["set", `fw/${n}`, `from-${n}`]);
      expect(r.code, r.stderr).toBe(0);
    }
    const origins = new Map<string, string>();
    const by = await committedBy(origins);
    expect(names.map((n) => by.get(`fw/${n}`))).toEqual(["n1", "n1", "n1"]);
    // A watcher sees each change as its client's node's (the change records it reads).
    expect(names.map((n) => origins.get(`fw/${n}`))).toEqual(names);
    expect((await stat(join(shared.dir, ".hfs", "peer.key"))).mode & 0o777).toBe(0o600);
    const n2 = parsePromText(
      await (await fetch(`http://127.0.0.1:${c.node("n2").statusPort}/metrics`)).text(),
    );
    expect(n2.get('hfs_forwarded_writes_total{outcome="ok"}')).toBe(1);
    const n1 = parsePromText(
      await (await fetch(`http://127.0.0.1:${c.node("n1").statusPort}/metrics`)).text(),
    );
    expect(n1.get('hfs_peer_writes_total{outcome="ok"}')).toBe(2);
  });

  it("a refusal at the committer reaches the client as its own: exit 4 on a stale --if-version", async () => {
    expect((await c.run("n3", ["set", "fw/cas", "1"])).code).toBe(0);
    const r = await c.run("n3", ["set", "fw/cas", "2", "--if-version", "7"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/version conflict/);
    expect((await c.run("n2", ["get", "fw/cas"])).stdout.trim()).toBe("1");
  });

  it("compare-and-set increments from every node, side by side: the counter ends at the acknowledged count", async () => {
    expect((await c.run("n1", ["set", "fw/counter", "0"])).code).toBe(0);
    let acked = 0;
    const worker = async (n: string) => {
      for (let i = 0; i < 8; i++) {
        const g = JSON.parse((await c.run(n, ["get", "fw/counter", "--json"])).stdout);
        const r = await c.run(n, [
          "set",
          "fw/counter",
          String(Number(g.value) + 1),
          "--if-version",
          String(g.version),
        ]);
        if (r.code === 0) acked++;
        else expect(r.code, r.stderr).toBe(4);
      }
    };
    await Promise.all(names.map(worker));
    expect(acked).toBeGreaterThan(0);
    expect(Number((await c.run("n2", ["get", "fw/counter"])).stdout)).toBe(acked);
  });

  it("the committer stops: the others commit their clients' writes themselves, then the next by name takes them", async () => {
    await c.stopDaemon("n1");
    const r = await c.run("n3", ["set", "fw/after", "x"]);
    expect(r.code, r.stderr).toBe(0);
    await c.waitFor("n3 handing its writes to n2", async () => (await c.status("n3"))?.committer === "n2");
    expect((await c.run("n3", ["set", "fw/after2", "y"])).code).toBe(0);
    const by = await committedBy();
    expect(by.get("fw/after")).toMatch(/^n[23]$/);
    expect(by.get("fw/after2")).toBe("n2");
    c.startDaemon("n1");
    await c.waitFor(
      "n3 handing its writes to n1 again",
      async () => (await c.status("n3"))?.committer === "n1",
    );
    await sleep(100);
  });
});
