/**
 * CLI start-up benchmark: `hfs-config get KEY` beside `node -e 0`, and `set` beside `get`, run in
 * turn (get, node, get, node, ...) so that each difference is taken between neighbours on a noisy
 * shared machine. The target (issue "a light CLI"): get's median at most node -e 0's + 40 ms. Measured on a 1-node
 * GlusterFS cluster made with the CLI's own setup, with its daemon running (root's get asks it; a
 * node's mount is the daemon's, so with no daemon there is nothing to read).
 *
 * Run: npm run bench:cli   (root, /dev/fuse, GlusterFS; about a minute). BENCH_N (default 30) runs each.
 */
import { spawn } from "node:child_process";
import { CLI, percentile, Rig } from "./rig.js";

const N = Number(process.env.BENCH_N ?? 30);

function wall(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`${args.join(" ")} exited ${code}`));
      else resolve(performance.now() - t0);
    });
  });
}

/** `n` pairs of (a, b), each pair's two runs back to back; medians of each and of a - b. */
async function paired(n: number, a: () => Promise<number>, b: () => Promise<number>) {
  for (let i = 0; i < 3; i++) {
    await a();
    await b();
  }
  const as: number[] = [];
  const bs: number[] = [];
  const diffs: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = await a();
    const y = await b();
    as.push(x);
    bs.push(y);
    diffs.push(x - y);
  }
  return { a: percentile(as, 50), b: percentile(bs, 50), diff: percentile(diffs, 50) };
}

const rig = await Rig.start(["n1"]);
try {
  await rig.untilClean(120_000);
  const set = await rig.cli("n1", ["set", "bench/db/host", "db1.example"]);
  if (set.code !== 0) throw new Error(`set failed: ${set.stderr}`);
  const env = { ...process.env, HFS_STATE_DIR: rig.node("n1").state };
  const get = () => wall([CLI, "get", "bench/db/host"], env);
  const bare = () => wall(["-e", "0"], env);
  const viaDaemon = await paired(N, get, bare);
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`CLI start, ${N} runs each, medians, node ${process.version}`);
  console.log(`  node -e 0                          ${ms(viaDaemon.b)}`);
  console.log(`  hfs-config get                     ${ms(viaDaemon.a)}   node -e 0 + ${ms(viaDaemon.diff)}`);
  console.log(
    `  target: get with its daemon at most node -e 0 + 40 ms: ${viaDaemon.diff <= 40 ? "met" : "NOT met"}`,
  );
  // A set through the daemon beside a get: what a write adds (the commit, and any loading).
  let i = 0;
  const setOne = () => wall([CLI, "set", "bench/db/host", `db${i++}.example`], env);
  const write = await paired(N, setOne, get);
  console.log(`  hfs-config set                     ${ms(write.a)}   get + ${ms(write.diff)}`);
} finally {
  await rig.stop();
}
