import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemProc } from "../../src/proc.js";
import { tempDir } from "../helpers/cli.js";
import { readPid, TestCluster } from "../helpers/cluster.js";
import { describeGluster } from "../helpers/gluster.js";
import { HandMounts } from "../helpers/hand-mount.js";

const NODES = ["n1", "n2", "n3"];
const GFAPI_CLIENT = join(import.meta.dirname, "..", "helpers", "gfapi-client.mjs");
/** An unprivileged local user: uid/gid 1001, no groups. */
const USER = ["--reuid=1001", "--regid=1001", "--clear-groups", "--"];
const SECRET = "5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e0f5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e0f";

/**
 * Bricks that admit only clients logging in with the cluster's secret: a volfile
 * without it, or with a wrong one, is refused even from a member's address; the
 * cluster serves, fails over and heals as before.
 */
describeGluster("brick authentication with the volume secret", () => {
  let c: TestCluster;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let hand: HandMounts;
  const tryMount = (name: string, text: string) => hand.tryMount(name, text, "secret");

  beforeAll(async () => {
    tmp = await tempDir("hfs-auth-");
    hand = new HandMounts(tmp.dir);
    const secretFile = join(tmp.dir, "secret");
    await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
    c = await TestCluster.create(NODES, { setupArgs: ["--secret-file", secretFile] });
    await c.serveAll();
    expect((await c.run("n1", ["set", "secret/pw", "s3cret"])).code).toBe(0);
  }, 240_000);

  afterAll(async () => {
    await hand?.cleanup();
    await c?.cleanup();
    await tmp?.cleanup();
  });

  it("every node keeps the secret 0600; bricks require the login and admit no address by itself", async () => {
    for (const n of NODES) {
      const st = await stat(join(c.node(n).state, "secret"));
      expect(st.mode & 0o777).toBe(0o600);
      const brickVol = await readFile(join(c.node(n).state, "volfiles", "brick.vol"), "utf8");
      expect(brickVol).toMatch(/option auth\.login\.\S+\.allow hfs-hfs-config/);
      expect(brickVol).not.toMatch(/auth\.addr/);
    }
    expect((await c.run("n3", ["get", "secret/pw"])).stdout).toBe("s3cret");
  });

  it("a client without the secret, or with a wrong one, is refused from a member's own address; with it, it reads", async () => {
    const out = join(tmp.dir, "right.vol");
    const r = await c.run("n1", ["volfile", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const right = await readFile(out, "utf8");
    expect(right).toMatch(new RegExp(`option password ${SECRET}`));
    const none = right.replace(/^\s*option (username|password) .*\n/gm, "");
    const wrong = right.replaceAll(SECRET, "0".repeat(64));
    const noSecret = await tryMount("none", none);
    expect(noSecret.answered, noSecret.ls).toBe(false);
    const wrongSecret = await tryMount("wrong", wrong);
    expect(wrongSecret.answered, wrongSecret.ls).toBe(false);
    // The same harness with the right secret reads the tree: the refusals above are the bricks'.
    const ok = await tryMount("right", right);
    expect(ok.answered, ok.ls).toBe(true);
    expect(ok.ls).toBe("pw");
    const log = await readFile(hand.log("none"), "utf8");
    expect(log).toMatch(/AUTH_FAILED|Authentication failed|authentication failed/i);
  }, 120_000);

  it("a libgfapi client as an unprivileged user, from a member's address, writes nothing without the secret", async () => {
    // The intruder's own dir: volfiles it made, and its client's logs.
    const own = join(tmp.dir, "uid1001");
    await mkdir(own, { recursive: true });
    await chmod(tmp.dir, 0o711);
    await chown(own, 1001, 1001);
    const out = join(tmp.dir, "right-gfapi.vol");
    expect((await c.run("n1", ["volfile", "-o", out])).code).toBe(0);
    const right = await readFile(out, "utf8");
    const write = async (name: string, volfile: string, path: string) => {
      const vol = join(own, `${name}.vol`);
      await writeFile(vol, volfile, { mode: 0o644 });
      const r = await systemProc.run(
        "setpriv",
        [...USER, process.execPath, GFAPI_CLIENT, vol, join(own, `${name}.log`), path, `from ${name}`],
        { timeoutMs: 60_000 },
      );
      return { code: r.code, said: `${r.stdout}${r.stderr}`.trim() };
    };
    const none = right.replace(/^\s*option (username|password) .*\n/gm, "");
    const wrong = right.replaceAll(SECRET, "0".repeat(64));
    // At once: each refused client takes its own ~12 s to give up.
    const tries = [
      ["none", none, "/app-x"],
      ["none-marker", none, "/.hfs/servers/evil"],
      ["wrong", wrong, "/app-x"],
    ] as const;
    const results = await Promise.all(
      tries.map(([name, volfile, path]) => write(`gfapi-${name}`, volfile, path)),
    );
    for (const [i, r] of results.entries()) {
      // 10: glfs_init failed, 11: the create failed; anything else would be the harness failing.
      expect([10, 11], `${tries[i]?.[0]} ${tries[i]?.[2]}: ${r.said}`).toContain(r.code);
    }
    for (const n of NODES) {
      for (const rel of ["app-x", ".hfs/servers/evil"]) {
        await expect(stat(join(c.brickDir(n), rel)), `${n} ${rel}`).rejects.toThrow(/ENOENT/);
      }
    }
    // The same client with the secret writes: the refusals above are the bricks'.
    const ok = await write("gfapi-right", right, "/gfapi-probe");
    expect(ok.code, ok.said).toBe(0);
    expect(await readFile(join(c.brickDir("n1"), "gfapi-probe"), "utf8")).toBe("from gfapi-right");
    await rm(join(c.node("n1").state, "config", "gfapi-probe"));
  }, 300_000);

  it("with logins on, a killed brick is restarted and healed, and writes go on meanwhile", async () => {
    const brickPid = await readPid(join(c.node("n3").state, "run", "brick.pid"));
    expect(brickPid).toBeDefined();
    process.kill(brickPid as number, "SIGKILL");
    const w = await c.run("n1", ["set", "secret/after", "x"]);
    expect(w.code, w.stderr).toBe(0);
    await c.waitFor(
      "n3's brick holds the write made while it was down",
      async () =>
        (await readFile(join(c.brickDir("n3"), "secret", "after"), "utf8").catch(() => "")) === "x" ||
        undefined,
      120_000,
    );
  }, 180_000);
});
