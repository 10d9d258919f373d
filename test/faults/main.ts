// npm run faults -- [--minutes M | --seconds S] [--seed N] [--runs K] [--only kind,kind]
// A fault run on three hosts of its own; each run's histories, nemesis log, report
// and the nodes' logs are kept in .tmp/faults/<seed>. Exit 1 when any checker failed.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { canMakeHosts } from "./hosts.js";
import { FAULT_KINDS, type FaultKind } from "./nemesis.js";
import { ROOT } from "./paths.js";
import { faultRun, summarize } from "./run.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string" },
    seconds: { type: "string" },
    seed: { type: "string" },
    runs: { type: "string", default: "1" },
    only: { type: "string" },
  },
});
const seconds = values.seconds ? Number(values.seconds) : Number(values.minutes ?? "10") * 60;
const runs = Number(values.runs);
const kinds = values.only ? (values.only.split(",") as FaultKind[]) : FAULT_KINDS;
const bad = kinds.filter((k) => !FAULT_KINDS.includes(k));
if (!(seconds > 0) || !(runs >= 1) || bad.length) {
  console.error(
    `faults: bad arguments${bad.length ? `: unknown fault ${bad.join(", ")} (known: ${FAULT_KINDS.join(", ")})` : ""}; usage: npm run faults -- [--minutes M] [--seed N] [--runs K] [--only kind,...]`,
  );
  process.exit(2);
}
const why = await canMakeHosts();
if (why) {
  console.error(`faults: cannot make hosts: ${why}`);
  process.exit(5);
}
let failed = 0;
const first = values.seed ? Number(values.seed) : Math.floor(Math.random() * 1e6);
const rows: string[] = [];
// Ctrl-C or SIGTERM ends the faults at once and no further run starts; the cluster of the run in
// progress is still healed, checked and removed (network namespaces, bricks, mounts), never left behind.
const interrupted = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    console.log(`faults: ${sig}: ending this run's faults; checking and cleaning up before exit`);
    interrupted.abort();
  });
for (let r = 0; r < runs && !interrupted.signal.aborted; r++) {
  const seed = first + r;
  const outDir = join(ROOT, ".tmp", "faults", String(seed));
  await mkdir(outDir, { recursive: true });
  const t0 = Date.now();
  const report = await faultRun({
    seconds,
    seed,
    outDir,
    kinds,
    log: (l) => console.log(l),
    signal: interrupted.signal,
  });
  const bad = Object.values(report.problems).some((p) => p.length > 0);
  if (bad) failed++;
  console.log(summarize(report).join("\n"));
  console.log(`kept in ${outDir} (${Math.round((Date.now() - t0) / 1000)} s)`);
  const c = report.counts;
  const p = report.problems;
  const n = (k: string) => (p[k] ?? []).length;
  const nFaults = Object.values(report.faults).reduce((a, b) => a + b, 0);
  rows.push(
    `| ${seed} | ${Math.round(seconds / 60)} min | ${nFaults} | ${c.operations} | ${c.writesOk} | ${c.writesUnknown} | ${n("lost")} | ${n("duplicateVersions")} | ${n("lockOverlaps")} | ${n("afr") + n("brickTrees")} | ${n("watchGaps")} | ${bad ? "FAIL" : "all held"} |`,
  );
}
console.log(
  "\n| seed | length | faults | operations | acknowledged | unknown | lost | duplicate versions | overlapping holders | split-brain / pending left | watch gaps | every checker |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
process.exit(failed ? 1 : 0);
