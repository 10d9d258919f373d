/**
 * The 8 writers on 3 nodes, alone and quickly (about a minute): writes per second and where
 * the CPU goes among bricks, FUSE clients, self-heal daemons, daemons and the writers
 * themselves, per write. `npm run bench:cluster` runs the same writers among its other figures.
 *
 * Run: npm run bench:writers [-- SECONDS [MODE]]   (root, /dev/fuse, GlusterFS)
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { VersionConflictError } from "../../src/errors.js";
import { open } from "../../src/index.js";
import { cpuWhile, Rig } from "./rig.js";

export type WriterMode = "distinct" | "cas";

/** `--worker STATE NAME SECONDS MODE KEYPREFIX`: one writer; prints {"ok","conflicts","cpu"}. */
export async function worker(args: string[]): Promise<void> {
  const [state, name, seconds, mode, prefix] = args as [string, string, string, string, string];
  const store = await open(state, { viaDaemon: true });
  const until = performance.now() + Number(seconds) * 1000;
  const start = process.cpuUsage();
  let ok = 0;
  let conflicts = 0;
  let i = 0;
  while (performance.now() < until) {
    if (mode === "distinct") {
      await store.set(`${prefix}/${name}/k${i++ % 20}`, `v${i}`);
      ok++;
      continue;
    }
    let version = 0;
    let value = 0;
    try {
      const cur = await store.get(prefix);
      if (cur.kind === "value") {
        version = cur.version;
        value = Number(cur.value.toString());
      }
    } catch {}
    try {
      await store.set(prefix, String(value + 1), { ifVersion: version });
      ok++;
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err;
      conflicts++;
    }
  }
  const u = process.cpuUsage(start);
  process.stdout.write(JSON.stringify({ ok, conflicts, cpu: (u.user + u.system) / 1e6 }));
  process.exit(0);
}

export interface WritersResult {
  perSecond: number;
  conflicts: number;
  /** CPU seconds the writer processes used while writing (their start-up left out). */
  writerCpu: number;
}

/** 8 writer processes over n1 n2 n3 n1 n2 n3 n1 n2, each writing through its node's daemon. */
export async function writers(rig: Rig, mode: WriterMode, seconds: number): Promise<WritersResult> {
  const where = ["n1", "n2", "n3", "n1", "n2", "n3", "n1", "n2"];
  const key = mode === "cas" ? "bench8/counter" : "bench8";
  const script = join(import.meta.dirname, "writers.js");
  const runs = where.map(
    (n, i) =>
      new Promise<{ ok: number; conflicts: number; cpu: number }>((res, rej) => {
        const child = spawn(
          process.execPath,
          [script, "--worker", rig.node(n).state, `w${i}`, String(seconds), mode, key],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => {
          out += d;
        });
        child.stderr.on("data", (d) => {
          err += d;
        });
        child.on("close", (code) =>
          code === 0 ? res(JSON.parse(out)) : rej(new Error(`writer ${i}: ${err}`)),
        );
      }),
  );
  const results = await Promise.all(runs);
  return {
    perSecond: results.reduce((a, r) => a + r.ok, 0) / seconds,
    conflicts: results.reduce((a, r) => a + r.conflicts, 0),
    writerCpu: results.reduce((a, r) => a + r.cpu, 0),
  };
}

/** The rig's processes by kind, read from each node's pid files. */
async function groups(rig: Rig): Promise<Record<string, number[]>> {
  const g: Record<string, number[]> = { bricks: [], mounts: [], shd: [], daemons: [] };
  for (const n of rig.nodes) {
    if (n.daemon?.pid) g.daemons?.push(n.daemon.pid);
    for (const pid of await rig.pidsOf(n.name)) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
      const bin = basename(argv[0] ?? "");
      if (bin === "glusterfsd") g.bricks?.push(pid);
      else if (argv.some((a) => a.endsWith("shd.vol"))) g.shd?.push(pid);
      else if (bin === "glusterfs") g.mounts?.push(pid);
    }
  }
  return g;
}

/** Writes per second, and per write the CPU milliseconds of each kind of process, less its idle rate (see cpuWhile). */
export async function writersProfile(rig: Rig, mode: WriterMode, seconds: number) {
  // A heal or crawl left from what ran before would be charged to the writers.
  await rig.untilClean(120_000);
  const g = await groups(rig);
  const { result: r, seconds: cpu } = await cpuWhile(Object.values(g).flat(), () =>
    writers(rig, mode, seconds),
  );
  const writes = r.perSecond * seconds;
  const perWrite: Record<string, number> = {};
  for (const [kind, pids] of Object.entries(g))
    perWrite[kind] = (pids.reduce((a, pid) => a + (cpu.get(pid) ?? 0), 0) / writes) * 1000;
  perWrite.writers = (r.writerCpu / writes) * 1000;
  return { ...r, perWrite };
}

export function describeProfile(p: Awaited<ReturnType<typeof writersProfile>>): string {
  const total = Object.values(p.perWrite).reduce((a, b) => a + b, 0);
  const parts = Object.entries(p.perWrite)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(", ");
  return `${p.perSecond.toFixed(0)} writes/s; CPU ms per write ${total.toFixed(1)} (${parts})`;
}

async function main(): Promise<void> {
  if (process.argv[2] === "--worker") return worker(process.argv.slice(3));
  const seconds = Number(process.argv[2] ?? 15);
  const mode = (process.argv[3] ?? "distinct") as WriterMode;
  const rig = await Rig.start(["n1", "n2", "n3"]);
  try {
    for (let run = 0; run < 2; run++) {
      const p = await writersProfile(rig, mode, seconds);
      console.log(`8 writers on 3 nodes, ${mode}: ${describeProfile(p)}`);
    }
  } finally {
    await rig.stop();
  }
}

if (import.meta.filename === process.argv[1]) await main();
