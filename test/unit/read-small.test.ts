import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readReplacedSmall } from "../../src/store/read-replaced.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hfs-read-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("readReplacedSmall", () => {
  it.each([0, 1, 65535, 65536, 65537, 200_000])("reads a file of %i bytes whole", async (size) => {
    const data = Buffer.alloc(size, 0);
    for (let i = 0; i < size; i++) data[i] = (i * 7) % 251;
    const file = join(dir, `f${size}`);
    await writeFile(file, data);
    expect((await readReplacedSmall(file)).equals(data)).toBe(true);
  });

  it.each([0, 10, 5000, 70_000])("a file of %i bytes holds no more memory than its size", async (size) => {
    const file = join(dir, `m${size}`);
    await writeFile(file, Buffer.alloc(size, 1));
    const got = await readReplacedSmall(file);
    expect(got.length).toBe(size);
    expect(got.buffer.byteLength).toBeLessThanOrEqual(Math.max(size, 1));
  });

  it("a missing file is ENOENT, as readFile says it", async () => {
    await expect(readReplacedSmall(join(dir, "none"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
