import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeGluster } from "../helpers/gluster.js";
import { ROOT } from "./paths.js";
import { faultRun, summarize } from "./run.js";

const SECONDS = Number(process.env.HFS_FAULT_SECONDS ?? 150);

/**
 * The fault suite, short: three hosts in network namespaces of their own, clients of
 * every kind on every node, the nemesis, then every checker. `npm run faults` runs it
 * for longer; this keeps CI honest in a few minutes. Each run is kept in .tmp/faults.
 */
describeGluster("fault suite (three hosts, a nemesis, checkers)", () => {
  it(
    `${SECONDS} s of seeded faults: no acknowledged write lost, versions chained, locks exclusive, watches whole, status truthful`,
    async () => {
      // A fixed seed, so a red CI run replays with `npm run faults -- --seed N`.
      const seed = Number(process.env.HFS_FAULT_SEED ?? 7);
      const outDir = join(ROOT, ".tmp", "faults", `ci-${seed}`);
      await mkdir(outDir, { recursive: true });
      const report = await faultRun({ seconds: SECONDS, seed, outDir });
      console.log(`[faults]\n${summarize(report).join("\n")}\nkept in ${outDir}`);
      expect(report.counts.writesOk).toBeGreaterThan(50);
      expect(report.counts.locksHeld).toBeGreaterThan(3);
      expect(report.counts.watchEvents).toBeGreaterThan(50);
      expect(Object.values(report.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
      const failed = Object.fromEntries(Object.entries(report.problems).filter(([, v]) => v.length > 0));
      expect(failed).toEqual({});
    },
    SECONDS * 1000 + 900_000,
  );

  it("the checkers catch a planted bug: writers that take no write lock and count a lost commit race as done", async () => {
    const outDir = join(ROOT, ".tmp", "faults", "planted-bug");
    await mkdir(outDir, { recursive: true });
    const report = await faultRun({
      seconds: 30,
      seed: 1,
      outDir,
      kinds: [],
      // Every node commits its own clients' writes: with one committer for the cluster its
      // queue serialises the writes in one process, so the missing lock is rarely raced and
      // the run may lose nothing (it showed only as repeated lock tokens once).
      env: { HFS_FAILPOINTS: "bug.no-write-lock=on", HFS_FORWARD_WRITES: "0" },
    });
    console.log(`[faults: planted bug]\n${summarize(report).join("\n")}`);
    expect(report.problems.lost?.length ?? 0).toBeGreaterThan(0);
  }, 900_000);
});
