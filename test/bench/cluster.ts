/**
 * Cluster benchmark: a 3-node loopback GlusterFS cluster made with the CLI's own
 * setup, measured in one run so that the ratios hold on a noisy shared machine:
 * set and get through the library and the CLI beside the raw FUSE floor on the same
 * mount, 8 writers on 3 nodes, watch latency across nodes, the idle cost of a node,
 * get --json of a 1,000-entry directory, and a full restart of a 10,000-key cluster.
 *
 * Run: npm run bench:cluster   (root, /dev/fuse, GlusterFS; about 6 minutes)
 * BENCH_N (default 200) sets the samples per latency figure.
 */
import { spawn } from "node:child_process";
import { open as openFile, readFile, realpath, rename, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { watch } from "../../src/coord/watch.js";
import { open } from "../../src/index.js";
import { writeTagFd } from "../../src/store/tag.js";
import { cpuSeconds, percentile, Rig, sleep } from "./rig.js";
import { describeProfile, writers, writersProfile } from "./writers.js";

const N = Number(process.env.BENCH_N ?? 200);
const NODES = ["n1", "n2", "n3"];

interface Row {
  what: string;
  p50: number;
  p99: number;
  note?: string;
}

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(10, n); i++) await op(-1 - i);
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op(i);
    xs.push(performance.now() - t0);
  }
  return { p50: percentile(xs, 50), p99: percentile(xs, 99) };
}

async function main(): Promise<void> {
  const rig = await Rig.start(NODES);
  const rows: Row[] = [];
  const figures: string[] = [];
  try {
    const n1 = rig.node("n1").state;
    const lib = await open(n1);
    const mount = await realpath(join(n1, "config"));
    await lib.set("bench/db/host", "x");

    // The raw FUSE floor on the same mount, at the same depth as the keys.
    const raw = join(mount, "bench", "db", "raw");
    const rawWrite = await timed(N, async (i) => {
      const tmp = `${raw}.tmp${i}`;
      const fh = await openFile(tmp, "wx");
      await fh.writeFile(`value-${i}`);
      await fh.sync();
      await fh.close();
      await rename(tmp, raw);
    });
    const rawRead = await timed(N, () => readFile(raw));
    const libSet = await timed(N, (i) => lib.set("bench/db/host", `value-${i}`));
    const libGet = await timed(N, () => lib.get("bench/db/host"));
    // The same again, so that both sides of each ratio saw the same moment of the machine.
    const rawWrite2 = await timed(N, async (i) => {
      const tmp = `${raw}.tmp-b${i}`;
      const fh = await openFile(tmp, "wx");
      await fh.writeFile(`value-${i}`);
      await fh.sync();
      await fh.close();
      await rename(tmp, raw);
    });
    const floorWrite = Math.min(rawWrite.p50, rawWrite2.p50);
    rows.push({ what: "raw FUSE durable write (tmp, fsync, rename)", ...rawWrite });
    rows.push({ what: "raw FUSE read", ...rawRead });
    rows.push({
      what: "set, library",
      ...libSet,
      note: `${(libSet.p50 / floorWrite).toFixed(2)}x raw write`,
    });
    rows.push({
      what: "get, library",
      ...libGet,
      note: `${(libGet.p50 / rawRead.p50).toFixed(2)}x raw read`,
    });
    const cliN = Math.max(20, Math.floor(N / 5));
    const cliSet = await timed(cliN, (i) => rig.cli("n1", ["set", "bench/db/host", `cli-${i}`]));
    const cliGet = await timed(cliN, () => rig.cli("n1", ["get", "bench/db/host"]));
    const nodeStart = await timed(cliN, () => runNode(["-e", "0"]));
    rows.push({ what: "set, CLI (through the daemon)", ...cliSet });
    rows.push({ what: "get, CLI", ...cliGet });
    rows.push({ what: "node -e 0 (process start)", ...nodeStart });

    // Watch latency: a set on n1 until a watcher on n3 sees it.
    const n3 = await open(rig.node("n3").state);
    const stop = new AbortController();
    const seen = new Map<string, number>();
    const watching = (async () => {
      for await (const ev of watch(n3, "bench/watch", { signal: stop.signal }))
        seen.set(ev.key, performance.now());
    })();
    await sleep(500);
    const lags: number[] = [];
    for (let i = 0; i < 30; i++) {
      const key = `bench/watch/k${i}`;
      const t0 = performance.now();
      await lib.set(key, "x");
      while (!seen.has(key)) await sleep(2);
      lags.push((seen.get(key) as number) - t0);
    }
    stop.abort();
    await watching.catch(() => {});
    rows.push({ what: "watch, set on n1 seen on n3", p50: percentile(lags, 50), p99: percentile(lags, 99) });

    // What one value's publication costs the bricks at the least (the staged file, its tag, the
    // rename: what a set does per key), beside what a set costs them among 8 writers. Their CPU is
    // what bounds the writes per second on a small machine; the ceiling says how far.
    const publish = await rig.brickCpu(() =>
      timed(N, async (i) => {
        const tmp = `${raw}.tmp-p${i}`;
        const fh = await openFile(tmp, "wx");
        await fh.writeFile(`value-${i}`);
        await writeTagFd(fh.fd, { generation: 1, version: 1 }, tmp);
        await fh.close();
        await rename(tmp, raw);
      }),
    );
    const publishCpuMs = (publish.seconds / (N + Math.min(10, N))) * 1000;
    rows.push({
      what: "raw FUSE publish (create, write, tag, rename)",
      ...publish.result,
      note: `${publishCpuMs.toFixed(1)} ms of brick CPU each`,
    });
    const distinct = await writersProfile(rig, "distinct", 15);
    const perWriteMs = distinct.perWrite.bricks as number;
    const cores = availableParallelism();
    figures.push(
      `8 writers on 3 nodes, distinct keys: ${describeProfile(distinct)}; of the bricks' ${perWriteMs.toFixed(1)} ms, ${publishCpuMs.toFixed(1)} is the least a value's publication costs them; bricks alone on all ${cores} cores would allow ${((cores * 1000) / perWriteMs).toFixed(0)} writes/s, and ${((cores * 1000) / publishCpuMs).toFixed(0)} if a write cost them no more than its publication`,
    );
    const cas = await writers(rig, "cas", 15);
    figures.push(
      `8 writers on 3 nodes, compare-and-set on one key: ${cas.perSecond.toFixed(0)} successful writes/s (${cas.conflicts} refused)`,
    );

    // A 1,000-entry directory, read whole: first (every file read), then kept by n2's daemon
    // (nothing changed: one read of head), then with one entry changed since (that entry read again).
    const dir: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) dir[`e${String(i).padStart(4, "0")}`] = `value-${i}`;
    const bigdir = (name: string) =>
      lib.write(async (ctx) => ({
        events: [{ op: "set" as const, key: name }],
        puts: Object.entries(dir).map(([k, v]) => ({
          path: `${name}/${k}`,
          data: Buffer.from(v),
          version: 1,
        })),
        steps: [{ t: "mkdir" as const, path: name }],
        result: ctx.generation,
      }));
    const readDir = async (name: string) => {
      const t0 = performance.now();
      const r = await rig.cli("n2", ["get", name, "--json"]);
      if (r.code !== 0) throw new Error(r.stderr);
      if (Object.keys(JSON.parse(r.stdout).entries).length !== 1000)
        throw new Error(`${name}: not 1,000 entries`);
      return performance.now() - t0;
    };
    const first: number[] = [];
    for (let i = 0; i < 3; i++) {
      await bigdir(`bigdir${i}`);
      first.push(await readDir(`bigdir${i}`));
    }
    rows.push({
      what: "get --json of a 1,000-entry directory, first read (CLI)",
      p50: percentile(first, 50),
      p99: percentile(first, 99),
    });
    const kept: number[] = [];
    for (let i = 0; i < 5; i++) kept.push(await readDir("bigdir2"));
    rows.push({
      what: "get --json of a 1,000-entry directory, kept, unchanged (CLI)",
      p50: percentile(kept, 50),
      p99: percentile(kept, 99),
    });
    const changed: number[] = [];
    for (let i = 0; i < 5; i++) {
      await lib.set("bigdir2/e0001", `changed-${i}`);
      changed.push(await readDir("bigdir2"));
    }
    rows.push({
      what: "get --json of a 1,000-entry directory, one entry changed since (CLI)",
      p50: percentile(changed, 50),
      p99: percentile(changed, 99),
    });

    // Idle cost of one node: everything it runs, over 30 s of nothing happening.
    await rig.untilClean(120_000);
    const pids = await rig.pidsOf("n2");
    const before = await Promise.all(pids.map(cpuSeconds));
    await sleep(30_000);
    const after = await Promise.all(pids.map(cpuSeconds));
    const idle = (after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0)) / 30;
    figures.push(`idle node (daemon, brick, mount, self-heal daemon): ${(idle * 100).toFixed(1)}% of a core`);

    // A 10,000-key cluster restarted whole: how long until every node is clean again.
    const tree: Record<string, Record<string, string>> = {};
    for (let d = 0; d < 100; d++) {
      const sub: Record<string, string> = {};
      for (let k = 0; k < 100; k++) sub[`k${k}`] = `value-${d}-${k}`;
      tree[`d${d}`] = sub;
    }
    const file = join(rig.base, "tenk.json");
    await writeFile(file, JSON.stringify({ tenk: tree }));
    const t0 = performance.now();
    const init = await rig.cli("n1", ["init", "--from", file, "--force"]);
    if (init.code !== 0) throw new Error(init.stderr);
    figures.push(`init of 10,000 keys: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await rig.untilClean(180_000);
    await Promise.all(NODES.map((n) => rig.stopDaemon(n)));
    const t1 = performance.now();
    for (const n of NODES) rig.startDaemon(n);
    await rig.untilClean(600_000);
    figures.push(
      `restart of a 10,000-key cluster: clean again ${((performance.now() - t1) / 1000).toFixed(1)} s after the daemons start`,
    );
  } finally {
    await rig.stop();
  }
  const w = Math.max(...rows.map((r) => r.what.length));
  console.log(`\n${"".padEnd(w)}   p50 ms   p99 ms`);
  for (const r of rows) {
    console.log(
      `${r.what.padEnd(w)}  ${r.p50.toFixed(1).padStart(7)}  ${r.p99.toFixed(1).padStart(7)}  ${r.note ?? ""}`,
    );
  }
  for (const f of figures) console.log(f);
}

function runNode(args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, args, { stdio: "ignore" });
    c.on("close", (code) => (code === 0 ? res() : rej(new Error(`node exited ${code}`))));
  });
}

await main();
