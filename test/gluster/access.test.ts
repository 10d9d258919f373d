import { chmod, open, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemProc } from "../../src/proc.js";
import { CLI } from "../helpers/cli.js";
import { TestCluster } from "../helpers/cluster.js";
import { describeGluster } from "../helpers/gluster.js";

/** An unprivileged local user, as the issue tried it: uid/gid 1001, no groups. */
const USER = ["--reuid=1001", "--regid=1001", "--clear-groups", "--"];
const asUser = (cmd: string, args: string[]) =>
  systemProc.run("setpriv", [...USER, cmd, ...args], { timeoutMs: 30_000 });
const mode = async (p: string) => (await stat(p)).mode & 0o777;
/** The node's read group, made for this test and removed after it. */
const GROUP = `hfsrd${process.pid % 100000}`;

/**
 * Only root reads the configuration on a node: the state dir (brick, mounts, logs,
 * volfiles, control socket) is 0700, logs and written volfiles 0600, and the CLI
 * says why it cannot read instead of failing with a stack trace.
 */
describeGluster("local access: root only, and a read group through the CLI", () => {
  let c: TestCluster;
  let state: string;

  let gid: number;
  const asReader = (args: string[]) =>
    systemProc.run(
      "setpriv",
      [
        "--reuid=1001",
        "--regid=1001",
        `--groups=${gid}`,
        "--",
        process.execPath,
        CLI,
        "--state-dir",
        state,
        ...args,
      ],
      { timeoutMs: 30_000 },
    );

  beforeAll(async () => {
    // A gid far from 1001: the unprivileged user's own gid must not be the read group's.
    let free = 47_000 + (process.pid % 1000);
    while ((await systemProc.run("getent", ["group", String(free)])).code === 0) free++;
    const add = await systemProc.run("groupadd", ["-g", String(free), GROUP]);
    expect(add.code, add.stderr).toBe(0);
    gid = Number((await systemProc.run("getent", ["group", GROUP])).stdout.split(":")[2]);
    c = await TestCluster.create(["n1"], { setupArgs: ["--group", GROUP] });
    // The test's temp dir is 0700 by itself; a real state dir sits in a world-readable /var/lib.
    await chmod(c.base, 0o755);
    state = c.node("n1").state;
    c.startDaemon("n1");
    await c.waitFor("n1 answering", () => c.status("n1"));
    const serve = await c.run("n1", ["serve"]);
    expect(serve.code, serve.stderr).toBe(0);
    await c.waitReady("n1", ["n1"]);
    expect((await c.run("n1", ["set", "secret/pw", "s3cret"])).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await c?.cleanup();
    await systemProc.run("groupdel", [GROUP]);
  });

  it("the state dir is 0700 and the daemon's log 0600", async () => {
    expect(await mode(state)).toBe(0o700);
    expect(await mode(join(state, "log", "daemon.log"))).toBe(0o600);
  });

  it("an unprivileged user reads the secret neither through the mount, nor from the brick, nor with the CLI", async () => {
    // Root reads it, so the paths are right.
    expect((await systemProc.run("cat", [join(state, "config", "secret", "pw")])).stdout).toBe("s3cret");
    for (const path of [join(state, "config", "secret", "pw"), join(state, "brick", "secret", "pw")]) {
      const r = await asUser("cat", [path]);
      expect(r.code, path).not.toBe(0);
      expect(r.stdout).not.toContain("s3cret");
      expect(r.stderr).toMatch(/Permission denied/);
    }
    const get = await asUser(process.execPath, [CLI, "--state-dir", state, "get", "secret/pw"]);
    expect(get.code).toBe(1);
    expect(get.stdout).not.toContain("s3cret");
    expect(get.stderr).toMatch(/permission denied \(EACCES\).*run the command as root/i);
    expect(get.stderr).not.toMatch(/unexpected error|at .*\.js:\d+/);
    const vol = await asUser(process.execPath, [CLI, "--state-dir", state, "volfile"]);
    expect(vol.code).toBe(1);
    expect(vol.stdout).not.toMatch(/remote-host/);
  });

  it("a member of the read group reads through the CLI (the daemon's read socket), and nothing else", async () => {
    const readDir = `${state}.read`;
    expect(await mode(readDir)).toBe(0o750);
    expect((await stat(readDir)).gid).toBe(gid);
    expect(await mode(join(readDir, "read.sock"))).toBe(0o660);
    expect(await mode(state)).toBe(0o700);
    const get = await asReader(["get", "secret/pw"]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toBe("s3cret");
    const ls = await asReader(["ls", "-r"]);
    expect(ls.stdout.split("\n")).toContain("secret/pw");
    const tree = await asReader(["get", "secret", "--json"]);
    expect(JSON.parse(tree.stdout)).toEqual({ key: "secret", entries: { pw: "s3cret" } });
    const missing = await asReader(["get", "secret/none"]);
    expect(missing.code).toBe(3);
    // Reading is all: a write, the mount and the brick stay root's.
    const set = await asReader(["set", "secret/pw", "mine"]);
    expect(set.code).toBe(1);
    expect(set.stderr).toMatch(/permission denied/i);
    expect((await c.run("n1", ["get", "secret/pw"])).stdout).toBe("s3cret");
    for (const path of [join(state, "config", "secret", "pw"), join(state, "brick", "secret", "pw")]) {
      const r = await systemProc.run("setpriv", [
        "--reuid=1001",
        "--regid=1001",
        `--groups=${gid}`,
        "--",
        "cat",
        path,
      ]);
      expect(r.code, path).not.toBe(0);
      expect(r.stdout).not.toContain("s3cret");
    }
  });

  it("a state dir left 0755 by an earlier version is narrowed when the daemon starts", async () => {
    await c.stopDaemon("n1");
    // A reader is told the daemon is down, not to join the group it is in.
    const down = await asReader(["get", "secret/pw"]);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/daemon is not running\. Ask root to start it/);
    await chmod(state, 0o755);
    c.startDaemon("n1");
    await c.waitReady("n1", ["n1"]);
    expect(await mode(state)).toBe(0o700);
  }, 120_000);

  it("volfile -o narrows an existing world-readable file to 0600 before writing", async () => {
    const out = join(c.base, "hand.vol");
    await writeFile(out, "old\n", { mode: 0o644 });
    await chmod(out, 0o644);
    const r = await c.run("n1", ["volfile", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(await mode(out)).toBe(0o600);
    const fh = await open(out, "r");
    try {
      expect(await fh.readFile("utf8")).toMatch(/type protocol\/client/);
    } finally {
      await fh.close();
    }
  });

  it("backup FILE is 0600", async () => {
    const out = join(c.base, "b.tar.gz");
    const r = await c.run("n1", ["backup", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(await mode(out)).toBe(0o600);
  });
});
