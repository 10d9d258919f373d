import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";
import { checkCrashed, runStepWriter, WRITE_SYSCALLS } from "../helpers/crash-points.js";

function hasStrace(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

/**
 * kill -9 at each system call of one compare-and-set write in turn (strace's fault
 * injection), on a fresh tree each time. Whatever the crash point, the key is wholly
 * at the old value and version or wholly at the new ones, and a compare-and-set made
 * from a read taken before the crash succeeds only if the crashed write did not commit.
 */
describe.skipIf(!hasStrace())("a crash at every system call of a write", () => {
  it("leaves the key wholly old or wholly new, and a stale compare-and-set is refused once it committed", async () => {
    const outcomes = { old: 0, new: 0 };
    const points: string[] = [];
    for (const syscall of WRITE_SYSCALLS) {
      for (let n = 1; ; n++) {
        expect(n, `${syscall}: the writer never ran to the end`).toBeLessThan(200);
        const t = await tempDir("hfs-crash-");
        cleanups.push(t.cleanup);
        const root = t.dir;
        await new Store({ root, node: "setup" }).set("app/k", "old");
        const run = await runStepWriter(
          { kind: "dir", where: root, key: "app/k", value: "new", ifVersion: 1 },
          { syscall, n },
        );
        const at = `${syscall} #${n}: ${run.killedAt ?? "(ran to the end)"}`;
        const seen = await checkCrashed(new Store({ root, node: "after" }), "app/k", at);
        if (seen === "old") outcomes.old++;
        else outcomes.new++;
        if (run.signal === null) {
          // Ran to the end: its write counted.
          expect(run.code, at).toBe(0);
          expect(seen, at).toBe("new");
          break;
        }
        points.push(`${at} -> ${seen}`);
      }
    }
    console.log(`crash points (old ${outcomes.old}, new ${outcomes.new}):\n${points.join("\n")}`);
    // Both outcomes happened: crashes before the commit point and after it.
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.new).toBeGreaterThan(WRITE_SYSCALLS.length);
  }, 300_000);
});
