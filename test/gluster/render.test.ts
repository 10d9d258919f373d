// Render resources on a 3-node loopback GlusterFS cluster, driven through the built CLI and real
// daemons: templates rendered on every node, wait --applied, a failing check, a removed key, and a
// daemon killed and restarted in the middle of a burst of changes.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { open } from "../../src/index.js";
import { tempDir } from "../helpers/cli.js";
import { sleep, TestCluster } from "../helpers/cluster.js";
import { describeGluster } from "../helpers/gluster.js";

const NODES = ["n1", "n2", "n3"];

const TEMPLATE = `# {{ name }} on {{ hfs.node }}
upstream {{ name }} {
{% for s in servers %}  server {{ s[1] }}:{{ port }};
{% endfor %}}
`;

describeGluster("render resources: 3 nodes on 127.0.0.1", () => {
  let c: TestCluster;
  let out: { dir: string; cleanup: () => Promise<void> };
  const dest = (n: string) => join(out.dir, n, "upstream.conf");
  const reloads = async (n: string) =>
    (await readFile(join(out.dir, n, "reloads"), "utf8").catch(() => ""))
      .split("\n")
      .filter(Boolean)
      .map(Number);

  async function setOn(n: string, key: string, value: string): Promise<number> {
    const r = await c.run(n, ["--json", "set", key, value]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).generation as number;
  }

  function waitApplied(g: number, extra: string[] = []) {
    return c.run("n2", ["wait", "--applied", String(g), "--resource", "up", "--timeout", "60", ...extra]);
  }

  beforeAll(async () => {
    out = await tempDir("hfs-render-out-");
    for (const n of NODES) await mkdir(join(out.dir, n));
    c = await TestCluster.create(NODES);
    await c.serveAll(120_000);
    await setOn("n1", "app/name", "web");
    await setOn("n1", "app/port", "80");
    await setOn("n1", "app/servers/s1", "10.0.0.1");
    await setOn("n1", "app/servers/s2", "10.0.0.2");
    await setOn("n1", "render/up/template", TEMPLATE);
  });

  afterAll(async () => {
    await c?.cleanup();
    await out?.cleanup();
  });

  it("a resource renders a file from its keys on every node; a set on n1, then wait --applied, and every file holds it", async () => {
    const spec = [
      `dest: ${out.dir}/{{node}}/upstream.conf`,
      "mode: '0640'",
      "keys: {name: app/name, port: app/port, servers: app/servers}",
      'check: "! grep -q BAD {{tmp}}"',
      `reload: "date +%s.%N >> ${out.dir}/{{node}}/reloads"`,
      "wait: {min: 1, max: 3}",
    ].join("\n");
    const g0 = await setOn("n1", "render/up/spec", spec);
    const w0 = await waitApplied(g0);
    expect(w0.code, w0.stderr).toBe(0);
    for (const n of NODES) {
      expect(await readFile(dest(n), "utf8")).toBe(
        `# web on ${n}\nupstream web {\n  server 10.0.0.1:80;\n  server 10.0.0.2:80;\n}\n`,
      );
    }
    const g = await setOn("n1", "app/port", "8080");
    const w = await waitApplied(g);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain(`generation ${g} applied on n1, n2, n3`);
    for (const n of NODES) expect(await readFile(dest(n), "utf8")).toContain("server 10.0.0.2:8080;");
    // The same report in the config fs, readable from any node.
    const rep = await c.waitFor("n2's report through n1's mount", async () => {
      const t = await readFile(join(c.node("n1").state, "config", ".hfs", "render", "n2.json"), "utf8").catch(
        () => "",
      );
      const r = t ? JSON.parse(t) : undefined;
      return r?.resources?.[0]?.generation >= g ? r : undefined;
    });
    expect(rep).toMatchObject({ node: "n2", resources: [{ name: "up", error: null }] });
    // status lists no node behind.
    const st = JSON.parse((await c.run("n3", ["--json", "status"])).stdout);
    expect(st.render).toEqual([]);
  });

  it("a check that fails keeps the old file on every node, and wait exits 4 naming the nodes", async () => {
    const before = await Promise.all(NODES.map((n) => readFile(dest(n), "utf8")));
    const g = await setOn("n1", "app/name", "BADNAME");
    const w = await waitApplied(g);
    expect(w.code, w.stdout).toBe(4);
    for (const n of NODES) expect(w.stderr).toContain(`${n} (up)`);
    expect(w.stderr).toContain("refused the new file");
    expect(await Promise.all(NODES.map((n) => readFile(dest(n), "utf8")))).toEqual(before);
    const st = JSON.parse((await c.run("n1", ["--json", "status"])).stdout);
    expect(st.render.map((l: { node: string }) => l.node).sort()).toEqual(NODES);
    // Fixed, it applies everywhere again.
    const g2 = await setOn("n3", "app/name", "web");
    expect((await waitApplied(g2)).code).toBe(0);
  });

  it("a key removed: the resource reports an error and keeps the old file", async () => {
    const before = await Promise.all(NODES.map((n) => readFile(dest(n), "utf8")));
    const r = await c.run("n1", ["--json", "rm", "app/port"]);
    expect(r.code, r.stderr).toBe(0);
    const g = JSON.parse(r.stdout).generation as number;
    const w = await waitApplied(g);
    expect(w.code).toBe(4);
    expect(w.stderr).toContain("app/port (variable port) does not exist");
    expect(await Promise.all(NODES.map((n) => readFile(dest(n), "utf8")))).toEqual(before);
    const s = await c.status("n2");
    expect(s?.render?.resources[0]?.error?.code).toBe("E_RENDER_MISSING_KEY");
    const g2 = await setOn("n1", "app/port", "8080");
    expect((await waitApplied(g2)).code).toBe(0);
  });

  it("render --dry-run shows a hand-edited file's diff and changes nothing; render --once puts it back", async () => {
    const good = await readFile(dest("n1"), "utf8");
    await writeFile(dest("n1"), "edited by hand\n");
    const dry = await c.run("n1", ["render", "--dry-run", "up"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("-edited by hand");
    expect(dry.stdout).toContain("+upstream web {");
    expect(await readFile(dest("n1"), "utf8")).toBe("edited by hand\n");
    const once = await c.run("n1", ["render", "--once", "up"]);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toContain("installed");
    expect(await readFile(dest("n1"), "utf8")).toBe(good);
  });

  it("a daemon killed and restarted during a burst of 50 changes: the file of the last generation, reloads at most once per window", async () => {
    const lib = await open(c.node("n1").state);
    const before = await Promise.all(NODES.map(reloads));
    let last = 0;
    for (let i = 0; i < 50; i++) {
      last = (await lib.set("app/port", String(9000 + i))).generation;
      if (i === 15) await c.stopDaemon("n3", "SIGKILL");
      if (i === 35) c.startDaemon("n3");
      await sleep(60);
    }
    await c.waitReady("n3", NODES, 60_000);
    const w = await waitApplied(last);
    expect(w.code, w.stderr).toBe(0);
    for (const n of NODES) expect(await readFile(dest(n), "utf8")).toContain("server 10.0.0.1:9049;");
    for (const [i, n] of NODES.entries()) {
      const mine = (await reloads(n)).slice((before[i] as number[]).length);
      expect(mine.length).toBeGreaterThan(0);
      // Renders come at least the window's min (1 s) apart, and a reload follows an install only.
      for (let k = 1; k < mine.length; k++)
        expect((mine[k] as number) - (mine[k - 1] as number), `${n}: ${mine.join(", ")}`).toBeGreaterThan(
          0.9,
        );
      expect(mine.length, `${n}: ${mine.join(", ")}`).toBeLessThan(50 / 3);
    }
  });
});
