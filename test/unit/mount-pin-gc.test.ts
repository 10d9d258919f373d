import { mkdir, readlink, rm, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expect, it } from "vitest";
import { MountPin } from "../../src/engine/mount-pin.js";
import { tempDir } from "../helpers/cli.js";

setFlagsFromString("--expose-gc");

/** A mountinfo line that shows `dir` (a plain directory) as a GlusterFS mount. */
async function mountinfoLine(dir: string, id: number): Promise<string> {
  const dev = (await stat(dir)).dev;
  const majMin = `${(dev >> 8) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & ~0xff)}`;
  return `${id} 25 ${majMin} / ${dir} rw,relatime - fuse.glusterfs hfs rw\n`;
}
const gc = runInNewContext("gc") as () => void;

it("a pin's fd stays open after its MountPin is dropped and the garbage collector runs (its path must not move)", async () => {
  const t = await tempDir("hfs-pin-");
  try {
    const dir = join(t.dir, "mnt");
    await mkdir(dir);
    await symlink(dir, join(t.dir, "config"));
    const mountinfo = await mountinfoLine(dir, 36);
    let pin: MountPin | undefined = new MountPin(join(t.dir, "config"), async () => mountinfo);
    const path = (await pin.pin()).path;
    pin = undefined;
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await readlink(path)).toBe(dir);
  } finally {
    await t.cleanup();
  }
});

it("a superseded pin closes by itself once its grace has passed, with no new pin to trigger it", async () => {
  const t = await tempDir("hfs-pin-");
  try {
    const a = join(t.dir, "a");
    const b = join(t.dir, "b");
    await mkdir(a);
    await mkdir(b);
    const link = join(t.dir, "config");
    await symlink(a, link);
    const mountinfo = (await mountinfoLine(a, 36)) + (await mountinfoLine(b, 37));
    const pin = new MountPin(link, async () => mountinfo, 100);
    const first = (await pin.pin()).path;
    // The daemon remounted: config now leads to b.
    await rm(link);
    await symlink(b, link);
    const second = (await pin.pin()).path;
    expect(await readlink(first)).toBe(a);
    await new Promise((r) => setTimeout(r, 300));
    // The old handle is closed (its number may have gone to another file since, but not to a).
    expect(await readlink(first).catch(() => "closed")).not.toBe(a);
    expect(await readlink(second)).toBe(b);
    await pin.close();
  } finally {
    await t.cleanup();
  }
});
