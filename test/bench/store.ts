/**
 * Store benchmark: set and get through the library on a local directory, beside a
 * raw writeFile+fsync+rename floor and a raw readFile measured in the same run, so
 * that the ratios hold on a noisy shared machine. Run: npm run bench:store
 */
import { mkdir, mkdtemp, open, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/store/store.js";

const N = Number(process.env.BENCH_OPS ?? 300);
const KEYS = 50;
const VALUE = Buffer.alloc(256, "v");

interface Result {
  name: string;
  opsPerSec: number;
  p50ms: number;
  p99ms: number;
}

async function measure(name: string, op: (i: number) => Promise<unknown>): Promise<Result> {
  for (let i = 0; i < 20; i++) await op(i);
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await op(i);
    times.push(performance.now() - t0);
  }
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  const pct = (p: number) =>
    times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] as number;
  return { name, opsPerSec: (N / total) * 1000, p50ms: pct(50), p99ms: pct(99) };
}

async function rawWrite(dir: string, i: number): Promise<void> {
  const target = join(dir, `k${i % KEYS}`);
  const tmp = `${target}.tmp`;
  const fh = await open(tmp, "w");
  await fh.writeFile(VALUE);
  await fh.sync();
  await fh.close();
  await rename(tmp, target);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "hfs-bench-"));
  try {
    const raw = join(dir, "raw");
    await mkdir(raw);
    const store = new Store({ root: join(dir, "store"), node: "bench" });
    await mkdir(store.root);
    const results = [
      await measure("raw write+fsync+rename", (i) => rawWrite(raw, i)),
      await measure("store.set", (i) => store.set(`bench/k${i % KEYS}`, VALUE)),
      await measure("raw readFile", (i) => readFile(join(raw, `k${i % KEYS}`))),
      await measure("store.get", (i) => store.get(`bench/k${i % KEYS}`)),
    ];
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    const rows = results.map(
      (r) =>
        `${r.name.padEnd(24)} ${r.opsPerSec.toFixed(0).padStart(8)} ops/s  p50 ${r.p50ms.toFixed(3)} ms  p99 ${r.p99ms.toFixed(3)} ms`,
    );
    const setRatio =
      (by["raw write+fsync+rename"] as Result).opsPerSec / (by["store.set"] as Result).opsPerSec;
    const getRatio = (by["raw readFile"] as Result).opsPerSec / (by["store.get"] as Result).opsPerSec;
    console.log(
      `${N} ops each, ${VALUE.length}-byte values, ${KEYS} keys, on ${tmpdir()}\n${rows.join("\n")}`,
    );
    console.log(
      `set costs ${setRatio.toFixed(1)}x the raw durable write; get costs ${getRatio.toFixed(1)}x a raw read`,
    );
    if (process.env.BENCH_JSON) console.log(JSON.stringify({ results, setRatio, getRatio }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
