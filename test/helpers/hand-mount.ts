import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { systemProc } from "../../src/proc.js";
import { sleep } from "./cluster.js";

/**
 * FUSE mounts made by hand from a volfile, as an intruder holding one would try; `cleanup` unmounts
 * each and kills its client by pid.
 */
export class HandMounts {
  private readonly mounts: { child: ChildProcess; mountPoint: string }[] = [];
  constructor(private readonly dir: string) {}

  /**
   * Mounts `volfileText` as `name` and lists `probe` under it: answered when the bricks let it in within
   * `withinMs`. A refused login makes the client exit; a failed TLS handshake leaves it retrying, so
   * the wait is bounded.
   */
  async tryMount(
    name: string,
    volfileText: string,
    probe: string,
    withinMs = 20_000,
  ): Promise<{ answered: boolean; ls: string }> {
    const vol = join(this.dir, `${name}.vol`);
    const mountPoint = join(this.dir, name);
    await writeFile(vol, volfileText, { mode: 0o600 });
    await mkdir(mountPoint, { recursive: true });
    const child = spawn(
      "glusterfs",
      ["-N", "-f", vol, "-l", this.log(name), `--volfile-id=${name}`, mountPoint],
      { stdio: "ignore" },
    );
    this.mounts.push({ child, mountPoint });
    let ls = "";
    const end = Date.now() + withinMs;
    while (Date.now() < end) {
      await sleep(500);
      const r = await systemProc.run("ls", [join(mountPoint, probe)], {
        timeoutMs: Math.max(1_000, Math.min(5_000, end - Date.now())),
      });
      ls = `${r.stdout}${r.stderr}`.trim();
      if (r.code === 0) return { answered: true, ls };
      if (child.exitCode !== null) break;
    }
    return { answered: false, ls };
  }

  log(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  async cleanup(): Promise<void> {
    for (const m of this.mounts) {
      await systemProc.run("umount", ["-l", m.mountPoint], { timeoutMs: 10_000 });
      if (m.child.exitCode === null) m.child.kill("SIGKILL");
    }
  }
}
