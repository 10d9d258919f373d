import type { ChildProcess } from "node:child_process";
import { appendFileSync, createWriteStream } from "node:fs";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { matchesPrefix } from "../../src/coord/watch.js";
import { callDaemon } from "../../src/daemon/control-client.js";
import type { StatusReport } from "../../src/daemon/wire.js";
import { DEFAULT_PING_TIMEOUT_SECONDS } from "../../src/gluster/volfile.js";
import { StatePaths } from "../../src/node/state-dir.js";
import { healthExitCode, judgeHealth } from "../../src/plan/health.js";
import { afrProblems } from "../helpers/afr-state.js";
import { snapshot } from "../helpers/snapshot.js";
import {
  type CmdEvent,
  checkFinalRegister,
  checkFinalValues,
  checkLock,
  checkRegister,
  checkStatus,
  checkTreeReads,
  checkWatch,
  type Op,
  type StatusSample,
  type WatchEv,
} from "./checkers.js";
import { FaultCluster, sleep } from "./fault-cluster.js";
import { NetHosts } from "./hosts.js";
import { journalFacts, readJournal } from "./journal-read.js";
import { FAULT_KINDS, type FaultKind, Nemesis, planFault, seededRandom } from "./nemesis.js";
import { WORKER } from "./paths.js";

export interface FaultRunOptions {
  seconds: number;
  seed: number;
  /** Where histories, the nemesis log, the report and the nodes' logs are kept. */
  outDir: string;
  kinds?: readonly FaultKind[];
  /** Extra environment for every daemon and client (e.g. HFS_FAILPOINTS to plant a bug). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Ends the faults early; the run still heals, checks and removes everything it started. */
  signal?: AbortSignal;
}

export interface FaultRunReport {
  seed: number;
  seconds: number;
  problems: Record<string, string[]>;
  counts: Record<string, number>;
  faults: Record<string, number>;
}

const REGISTER = "reg/r";
const LOCK = "fl";

async function readLines<T>(file: string): Promise<T[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** `n1(same=.. patch=.. full=..)` from the node's /metrics, fetched inside its host. */
async function treeAnswers(c: FaultCluster, node: string): Promise<string> {
  const paths = new StatePaths(c.node(node).state);
  const cfg = JSON.parse(await readFile(paths.nodeFile, "utf8")) as { address: string; statusPort: number };
  const script = `fetch("http://${cfg.address}:${cfg.statusPort}/metrics").then((r) => r.text()).then((t) => process.stdout.write(t), () => {})`;
  const child = c.spawnOn(node, process.execPath, ["-e", script]);
  let text = "";
  child.stdout?.on("data", (d) => {
    text += d;
  });
  await new Promise((r) => child.on("close", r));
  const counts = [...text.matchAll(/^hfs_tree_reads_total\{answer="(\w+)"\} (\d+)$/gm)].map(
    (m) => `${m[1]}=${m[2]}`,
  );
  return `${node}(${counts.join(" ") || "none"})`;
}

/** One status sample of a node, from its daemon's control socket, judged as `status` judges it. */
async function sampleStatus(state: string, node: string): Promise<StatusSample> {
  const t = Date.now();
  const local = await callDaemon<StatusReport>(
    new StatePaths(state),
    "GET",
    "/v1/status",
    undefined,
    3_000,
  ).catch(() => undefined);
  const health = judgeHealth({
    engine: "gluster",
    daemonAnswered: Boolean(local),
    ready: local?.ready,
    mounted: local && local.mounted.length > 0 ? local.mounted : null,
    discrepancies: local?.discrepancies ?? [],
  });
  return { t, node, code: healthExitCode(health), reasons: health.reasons.map((r) => r.kind) };
}

/**
 * A fault run: three hosts, a daemon, brick and mount on each, clients of every
 * kind on every node, the nemesis for `seconds`, then a final heal and every
 * checker. The report lists each checker's problems (empty lists: it held).
 */
export async function faultRun(opts: FaultRunOptions): Promise<FaultRunReport> {
  const log = opts.log ?? (() => {});
  const out = opts.outDir;
  // A seed run again starts a history of its own: the clients append.
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, "hist"), { recursive: true });
  const nemesisLog = createWriteStream(join(out, "nemesis.log"));
  const say = (line: string) => {
    const l = `${new Date().toISOString()} ${line}`;
    nemesisLog.write(`${l}\n`);
    log(l);
  };
  const hosts = await NetHosts.create(3);
  let cluster: FaultCluster | undefined;
  const workers: { node: string; kind: string; child: ChildProcess }[] = [];
  try {
    // The checkers read every committed entry back from the journal: nothing may be pruned meanwhile.
    // Staged files are swept 2 s after they are first seen (default 1 h), so the sweep races the
    // writers, waiting and paused ones included, under every fault.
    cluster = await FaultCluster.create(hosts, {
      HFS_JOURNAL_LIMIT: "100000000",
      HFS_PENDING_SWEEP_SECONDS: "2",
      ...opts.env,
    });
    const c = cluster;
    const names = c.nodes.map((n) => n.name);
    for (const n of names) c.startDaemon(n);
    for (const n of c.nodes)
      await waitUntil(
        `${n.name}'s daemon answering`,
        async () => Boolean(await callDaemon(new StatePaths(n.state), "GET", "/v1/status", undefined, 3_000)),
        60_000,
      );
    for (const n of names) {
      const r = await c.cli(n, ["serve"], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`serve on ${n} exited ${r.code}: ${r.stderr}`);
    }
    await waitUntil("every node healthy before the run", () => c.allHealthy(), 180_000);
    say(`cluster up on ${names.map((n) => hosts.address(c.node(n).i)).join(", ")}; seed ${opts.seed}`);

    const hist = (name: string) => join(out, "hist", `${name}.jsonl`);
    const cmdLog = join(out, "hist", "lockcmd.jsonl");
    const spawnWorker = (node: string, kind: string, args: string[]) => {
      const name = `${node}-${kind}`;
      const child = c.spawnOn(node, process.execPath, [
        WORKER,
        kind,
        c.node(node).state,
        name,
        hist(name),
        ...args,
      ]);
      const wlog = createWriteStream(join(out, "hist", `${name}.log`));
      child.stdout?.pipe(wlog);
      child.stderr?.pipe(wlog);
      workers.push({ node, kind, child });
    };
    for (const n of names) {
      spawnWorker(n, "cas", [REGISTER]);
      spawnWorker(n, "keys", ["keys"]);
      spawnWorker(n, "lock", [LOCK, cmdLog]);
      spawnWorker(n, "watch", [""]);
      spawnWorker(n, "tree", ["keys"]);
    }

    // Status of every node every 2 s, for "said degraded while it was".
    const samples: StatusSample[] = [];
    const sampling = new AbortController();
    const sampler = (async () => {
      while (!sampling.signal.aborted) {
        for (const n of c.nodes) samples.push(await sampleStatus(n.state, n.name));
        await sleep(2_000);
      }
    })();

    const rand = seededRandom(opts.seed);
    const kinds = opts.kinds ?? FAULT_KINDS;
    const nemesis = new Nemesis(
      c,
      (node) =>
        workers.filter((w) => w.node === node && (w.kind === "cas" || w.kind === "keys")).map((w) => w.child),
      say,
    );
    const stop = new AbortController();
    opts.signal?.addEventListener("abort", () => stop.abort(), { once: true });
    const bag: FaultKind[] = [];
    if (kinds.length === 0) await sleep(opts.seconds * 1000);
    else
      await nemesis.run(
        () => planFault(rand, kinds, names, DEFAULT_PING_TIMEOUT_SECONDS * 1000, bag),
        Date.now() + opts.seconds * 1000,
        stop.signal,
      );
    await nemesis.heal();
    for (const n of names) if (!c.daemonRunning(n)) c.startDaemon(n);
    // A client that died is a broken run, not a quiet one: its history stops early.
    const deadClients = workers
      .filter((w) => w.child.exitCode !== null || w.child.signalCode !== null)
      .map(
        (w) =>
          `${w.node}-${w.kind} exited ${w.child.exitCode ?? w.child.signalCode} during the run (see hist/${w.node}-${w.kind}.log)`,
      );
    say("nemesis done; clients stop");
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(
      workers.map(async (w) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return;
        const gone = new Promise((r) => w.child.once("exit", r));
        await Promise.race([gone, sleep(120_000)]);
        if (w.child.exitCode === null && w.child.signalCode === null) {
          say(`${w.node}-${w.kind} ignored SIGTERM for 120 s; killed`);
          w.child.kill("SIGKILL");
        }
      }),
    );
    say("waiting for the final heal");
    const healed = await waitUntil(
      "every node healthy with no pending heals",
      async () => {
        for (const n of c.nodes) {
          const s = await sampleStatus(n.state, n.name);
          if (s.code !== 0) return false;
        }
        return true;
      },
      300_000,
    ).then(
      () => true,
      () => false,
    );
    sampling.abort();
    await sampler;
    const finalSamples = await Promise.all(c.nodes.map((n) => sampleStatus(n.state, n.name)));
    // The directory readers' reads, as each daemon answered them: kept, patched or read whole.
    say(`directory reads by answer: ${(await Promise.all(names.map((n) => treeAnswers(c, n)))).join(" ")}`);
    say(
      `final status ${finalSamples.map((s) => `${s.node}=${s.code}${s.reasons.length ? `(${s.reasons})` : ""}`).join(" ")}`,
    );

    // What the clients saw and what the cluster holds.
    const ops: Op[] = [];
    const watchEvents: WatchEv[] = [];
    for (const n of names) {
      ops.push(...(await readLines<Op>(hist(`${n}-cas`))), ...(await readLines<Op>(hist(`${n}-keys`))));
      ops.push(...(await readLines<Op>(hist(`${n}-lock`))));
      ops.push(...(await readLines<Op>(hist(`${n}-tree`))));
      watchEvents.push(...(await readLines<WatchEv>(hist(`${n}-watch`))));
    }
    const facts = journalFacts(await readJournal(join(c.node("n1").state, "config")));
    const finals: Record<string, Record<string, string | null>> = {};
    const keys = [
      ...new Set(ops.filter((o) => o.op === "set" || o.op === "cas").map((o) => o.key as string)),
    ];
    for (const n of names) {
      finals[n] = {};
      for (const k of keys) {
        const r = await c.cli(n, ["get", k], { timeoutMs: 30_000 });
        (finals[n] as Record<string, string | null>)[k] =
          r.code === 0 ? r.stdout : r.code === 3 ? null : `<exit ${r.code}>`;
      }
    }
    const bricks = Object.fromEntries(names.map((n) => [n, c.brickDir(n)]));
    const compareBricks = async () => {
      const trees = await Promise.all(
        names.map((n) => snapshot(c.brickDir(n), (rel) => rel === ".glusterfs")),
      );
      const diff: string[] = [];
      const all = new Set(trees.flatMap((t) => Object.keys(t)));
      for (const p of all) {
        const got = trees.map((t) => t[p] ?? "-");
        if (new Set(got).size > 1)
          diff.push(`${p}: ${names.map((n, i) => `${n}=${got[i]?.slice(0, 8)}`).join(" ")}`);
      }
      return { diff, afr: await afrProblems(bricks) };
    };
    // The daemons keep running (liveness entries, sweeps): a difference that a heal clears within a
    // minute is the checker racing them; one that outlasts it while status says healthy is a finding.
    let bricksNow = await compareBricks();
    const firstDiff = bricksNow;
    for (let i = 0; i < 12 && (bricksNow.diff.length > 0 || bricksNow.afr.length > 0); i++) {
      await sleep(5_000);
      bricksNow = await compareBricks();
    }
    const treeDiff = bricksNow.diff;
    const indexes: Record<string, string[]> = {};
    if (treeDiff.length > 0 || bricksNow.afr.length > 0) {
      for (const n of names)
        indexes[n] = await readdir(join(c.brickDir(n), ".glusterfs", "indices", "xattrop")).catch((e) => [
          String(e),
        ]);
      say(`bricks still differ after a minute; heal indexes: ${JSON.stringify(indexes)}`);
      // Still a finding (status said healthy meanwhile); whether a repair's crawl clears it tells
      // the next reader where to look.
      const repair = await c.cli("n1", ["repair"], { timeoutMs: 120_000 });
      let after = await compareBricks();
      for (let i = 0; i < 6 && (after.diff.length > 0 || after.afr.length > 0); i++) {
        await sleep(5_000);
        after = await compareBricks();
      }
      say(
        `after 'hfs-config repair' (exit ${repair.code}): ${after.diff.length + after.afr.length === 0 ? "the bricks converged" : `still ${after.diff.length} tree and ${after.afr.length} AFR differences`}`,
      );
    } else if (firstDiff.diff.length > 0 || firstDiff.afr.length > 0) {
      say(
        `bricks differed at first and converged: ${[...firstDiff.diff, ...firstDiff.afr].slice(0, 5).join("; ")}`,
      );
    }

    const reg = checkRegister(
      ops.filter((o) => o.key === REGISTER || o.key?.startsWith("keys/")),
      facts.committed,
    );
    const lockRuns = ops.filter((o) => o.op === "lock");
    const lk = checkLock(await readLines<CmdEvent>(cmdLog), lockRuns, facts.issued, facts.fenced);
    const wt = checkWatch(
      watchEvents,
      facts.committed.filter((x) => matchesPrefix("", x.key)),
    );
    const problems: Record<string, string[]> = {
      clients: deadClients,
      lost: reg.lost,
      duplicateVersions: reg.duplicateVersions,
      staleReads: reg.staleReads,
      failedButCommitted: reg.failedButCommitted,
      finalValues: [
        ...checkFinalValues(ops, finals),
        ...checkFinalRegister(REGISTER, ops, facts.committed, finals),
      ],
      journalHoles: facts.holes.map((g) => `generation ${g} missing from the journal`),
      brickTrees: treeDiff.slice(0, 50),
      afr: bricksNow.afr.slice(0, 50),
      lockOverlaps: lk.overlaps,
      lockTokenOrder: lk.tokenOrder,
      staleFenced: lk.staleFenced,
      staleTrees: checkTreeReads(ops).slice(0, 50),
      watchGaps: wt.gaps.slice(0, 50),
      watchDuplicates: wt.duplicates.slice(0, 50),
      status: [
        ...(healed ? [] : ["the cluster did not become healthy within 300 s of the last fault"]),
        ...checkStatus(nemesis.events, samples, finalSamples, DEFAULT_PING_TIMEOUT_SECONDS * 1000),
      ],
    };
    const count = (pred: (o: Op) => boolean) => ops.filter(pred).length;
    const report: FaultRunReport = {
      seed: opts.seed,
      seconds: opts.seconds,
      problems,
      counts: {
        operations: ops.length,
        writesOk: count((o) => (o.op === "cas" || o.op === "set") && o.outcome === "ok"),
        writesFailed: count((o) => (o.op === "cas" || o.op === "set") && o.outcome === "fail"),
        writesUnknown: count((o) => (o.op === "cas" || o.op === "set") && o.outcome === "unknown"),
        reads: count((o) => o.op === "get"),
        locksHeld: count((o) => o.op === "lock" && o.outcome === "ok"),
        fencedCommitted: facts.fenced.length,
        watchEvents: watchEvents.filter((e) => e.op === "event").length,
        watchRestarts: watchEvents.filter((e) => e.op === "restart").length,
        generations: facts.committed.length ? (facts.committed.at(-1)?.generation ?? 0) : 0,
      },
      faults: Object.fromEntries(
        FAULT_KINDS.map((k) => [k, nemesis.events.filter((e) => e.kind === k && e.phase === "start").length]),
      ),
    };
    await writeFile(join(out, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(out, "nemesis.json"), `${JSON.stringify(nemesis.events, null, 1)}\n`);
    await writeFile(join(out, "status-samples.jsonl"), samples.map((s) => JSON.stringify(s)).join("\n"));
    return report;
  } finally {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    if (cluster) {
      for (const n of cluster.nodes) {
        await cp(join(n.state, "log"), join(out, "logs", n.name), { recursive: true }).catch(() => {});
        await hosts.heal(n.i).catch(() => {});
      }
      await cp(join(cluster.base, "logs"), join(out, "logs"), { recursive: true }).catch(() => {});
      await cluster.cleanup().catch((err) => appendFileSync(join(out, "cleanup-error.txt"), `${err}\n`));
    }
    await hosts.destroy();
    nemesisLog.end();
  }
}

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(1_000);
  }
}

/** The problems of a report, one line each, for a summary. */
export function summarize(r: FaultRunReport): string[] {
  const lines = [
    `seed ${r.seed}, ${r.seconds} s: ${JSON.stringify(r.counts)}`,
    `faults: ${JSON.stringify(r.faults)}`,
  ];
  for (const [k, v] of Object.entries(r.problems)) {
    lines.push(`${v.length === 0 ? "ok  " : "FAIL"} ${k}${v.length ? `: ${v.length}` : ""}`);
    for (const p of v.slice(0, 5)) lines.push(`       ${p}`);
  }
  return lines;
}
