import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dirNode, hfs, tempDir } from "../helpers/cli.js";
import { snapshot } from "../helpers/snapshot.js";

let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir();
});
afterEach(async () => {
  await t.cleanup();
});

const YAML = `cluster:
  name: prod
  servers: [a, b, c]
app:
  db:
    host: db1
    port: 5432
`;

describe("a newcomer's tour on the dir engine", () => {
  it("setup, init, get, set, ls, rm, CAS conflict, missing key, backup, restore", async () => {
    const n = await dirNode(t.dir);
    const yaml = join(t.dir, "cluster.yaml");
    await writeFile(yaml, YAML);

    expect((await n.run(["init", "--from", yaml])).code).toBe(0);
    const host = await n.run(["get", "app/db/host"]);
    expect(host).toMatchObject({ code: 0, stdout: "db1" });
    const hostJson = JSON.parse((await n.run(["get", "app/db/host", "--json"])).stdout);
    expect(hostJson).toEqual({ key: "app/db/host", value: "db1", version: 1 });
    expect(JSON.parse((await n.run(["get", "cluster/servers", "--json"])).stdout)).toEqual({
      key: "cluster/servers",
      entries: { "0": "a", "1": "b", "2": "c" },
    });

    const set = await n.run(["set", "app/db/host", "db2", "--if-version", "1", "--json"]);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ key: "app/db/host", version: 2 });

    const conflict = await n.run(["set", "app/db/host", "db3", "--if-version", "1"]);
    expect(conflict.code).toBe(4);
    expect(conflict.stderr).toMatch(/expected version 1, found 2.*--if-version 2/);
    expect((await n.run(["get", "app/db/host"])).stdout).toBe("db2");

    expect((await n.run(["set", "app/new", "x", "--if-version", "0"])).code).toBe(0);
    expect((await n.run(["set", "app/new", "y", "--if-version", "0"])).code).toBe(4);
    expect((await n.run(["set", "app/piped", "-"], { input: "from stdin\n" })).code).toBe(0);
    expect((await n.run(["get", "app/piped"])).stdout).toBe("from stdin\n");

    expect((await n.run(["ls"])).stdout).toBe("app/\ncluster/\n");
    expect((await n.run(["ls", "app", "-r", "--json"])).stdout).toBe(
      `${JSON.stringify(["app/db/", "app/db/host", "app/db/port", "app/new", "app/piped"])}\n`,
    );

    const missing = await n.run(["get", "app/nope"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/does not exist/);
    expect((await n.run(["rm", "app/nope"])).code).toBe(3);

    const backupFile = join(t.dir, "b.tar.gz");
    expect((await n.run(["backup", backupFile])).code).toBe(0);
    const genBefore = JSON.parse((await n.run(["status", "--json"])).stdout).generation as number;

    expect((await n.run(["rm", "app/db"])).code).toBe(2);
    expect((await n.run(["rm", "app", "-r"])).code).toBe(0);
    expect((await n.run(["get", "app/db/host"])).code).toBe(3);

    const refused = await n.run(["restore", backupFile]);
    expect(refused.code).toBe(4);
    const restored = await n.run(["restore", backupFile, "--force"]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/saved the previous tree to .*restore-.*\.tar\.gz/);
    expect((await n.run(["get", "app/db/host"])).stdout).toBe("db2");
    const after = JSON.parse((await n.run(["get", "app/db/host", "--json"])).stdout);
    expect(after.version).toBeGreaterThan(2);
    const genAfter = JSON.parse((await n.run(["status", "--json"])).stdout).generation as number;
    expect(genAfter).toBeGreaterThan(genBefore);

    const reinit = await n.run(["init", "--from", yaml]);
    expect(reinit.code).toBe(4);
    expect(reinit.stderr).toMatch(/--force/);
    const forced = await n.run(["init", "--from", yaml, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/saved the previous tree to (\S+)/);
    expect((await n.run(["get", "app/db/host"])).stdout).toBe("db1");
    expect((await n.run(["get", "app/new"])).code).toBe(3);
  });

  it("restores into an empty config fs on another node", async () => {
    const a = await dirNode(join(t.dir, "a"));
    await a.run(["set", "k/v", "1"]);
    await a.run(["set", "k/v", "2"]);
    const file = join(t.dir, "b.tgz");
    expect((await a.run(["backup", file])).code).toBe(0);
    const b = await dirNode(join(t.dir, "b"));
    expect((await b.run(["restore", file])).code).toBe(0);
    expect(JSON.parse((await b.run(["get", "k/v", "--json"])).stdout)).toMatchObject({
      value: "2",
      version: 3,
    });
  });

  it("refuses data commands before setup, naming setup", async () => {
    const r = await hfs(join(t.dir, "none"), ["get", "a"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not set up.*hfs-config setup/);
  });

  it("a hand-edited node.json with a wrong type: the field named, no stack trace; setup --force mends it", async () => {
    const n = await dirNode(t.dir);
    const file = join(n.state, "node.json");
    const cfg = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...cfg, statusPort: "24800" }));
    for (const args of [["get", "a"], ["status"]]) {
      const r = await n.run(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(
        /node.json: field 'statusPort' must be a TCP port number, but it holds "24800"/,
      );
      expect(r.stderr).not.toMatch(/ at .*\.js:\d+/);
    }
    const again = await n.run([
      "setup",
      "--name",
      "n1",
      "--address",
      "127.0.0.1",
      "--engine",
      "dir",
      "--dir",
      n.cfgDir,
    ]);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toMatch(/field 'statusPort'/);
    const forced = await n.run([
      "setup",
      "--name",
      "n1",
      "--address",
      "127.0.0.1",
      "--engine",
      "dir",
      "--dir",
      n.cfgDir,
      "--force",
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await n.run(["set", "a", "1"])).code).toBe(0);
  });

  it("setup is idempotent and needs --force to change", async () => {
    const state = join(t.dir, "s");
    const args = [
      "setup",
      "--name",
      "n1",
      "--address",
      "127.0.0.1",
      "--engine",
      "dir",
      "--dir",
      join(t.dir, "c"),
    ];
    expect((await hfs(state, args)).stdout).toMatch(/^created/);
    expect((await hfs(state, args)).stdout).toMatch(/^unchanged/);
    const changed = [...args.slice(0, 2), "n2", ...args.slice(3)];
    expect((await hfs(state, changed)).code).toBe(4);
    expect((await hfs(state, [...changed, "--force"])).code).toBe(0);
  });

  it.each([
    [["--name", "N1", "--address", "1.2.3.4"], /invalid node name/],
    [["--name", "n1", "--address", "bad host"], /invalid address/],
    [["--name", "n1", "--address", "1.2.3.4", "--status-port", "70000"], /TCP port/],
    [["--name", "n1", "--address", "1.2.3.4", "--engine", "dir"], /needs --dir/],
    [["--name", "n1", "--address", "1.2.3.4", "--engine", "nfs"], /Allowed choices/],
    [["--address", "1.2.3.4"], /required option '--name/],
    [
      ["--name", "n1", "--address", "1.2.3.4", "--group", "no-such-group-hfs"],
      /no-such-group-hfs: this host has no such group/,
    ],
    [["--name", "n1", "--address", "1.2.3.4", "--group", "Bad Group"], /not a group name/],
  ])("setup %j is a usage error", async (args, problem) => {
    const r = await hfs(join(t.dir, "s"), ["setup", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(problem);
  });

  it("refuses a malformed members file, naming the line", async () => {
    const file = join(t.dir, "members");
    await writeFile(file, "n1 10.0.0.1\nn2\n");
    const r = await hfs(join(t.dir, "s"), [
      "setup",
      "--name",
      "n1",
      "--address",
      "10.0.0.1",
      "--members",
      file,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 2: expected 2 fields/);
  });

  it("every command's --help shows an example", async () => {
    const top = await hfs(join(t.dir, "s"), ["--help"]);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) /gm)]
      .map((m) => m[1] as string)
      .filter((c) => c !== "help");
    expect(commands).toEqual(
      expect.arrayContaining(["setup", "daemon", "serve", "retire", "init", "volfile", "get", "set"]),
    );
    expect(commands).toEqual(
      expect.arrayContaining(["ls", "rm", "watch", "lock", "locks", "repair", "backup", "restore", "status"]),
    );
    for (const cmd of commands) {
      const r = await hfs(join(t.dir, "s"), [cmd, "--help"]);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/Examples?:\n\s+\$ hfs-config/);
    }
  });
});

async function generationOf(n: Awaited<ReturnType<typeof dirNode>>): Promise<number> {
  const r = await n.run(["status", "--json"]);
  expect(r.code, `status failed: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout).generation;
}

describe("bad input is refused with exit 2 and changes nothing", () => {
  let n: Awaited<ReturnType<typeof dirNode>>;
  beforeEach(async () => {
    n = await dirNode(t.dir);
    await n.run(["set", "a/b", "1"]);
  });

  const cases: [string, string[], RegExp][] = [
    ["../x", ["set", "../x", "v"], /path step/],
    ["a//b", ["set", "a//b", "v"], /empty segment/],
    [".hfs/x", ["set", ".hfs/x", "v"], /reserved/],
    ["a/.b", ["set", "a/.b", "v"], /starts with '\.'/],
    ["2000 chars", ["set", "k".repeat(2000), "v"], /longer than 1024/],
    ["unknown flag", ["set", "a/b", "v", "--frobnicate"], /unknown option/],
    ["bad --if-version", ["set", "a/b", "v", "--if-version", "x"], /whole number/],
    ["bad --fencing", ["set", "a/b", "v", "--fencing", "nope"], /LOCK:TOKEN/],
    ["rm bad key", ["rm", "a/../b"], /path step/],
  ];
  it.each(cases)("%s", async (_name, args, problem) => {
    const before = await snapshot(n.cfgDir);
    const gen = await generationOf(n);
    const r = await n.run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(problem);
    expect(await snapshot(n.cfgDir)).toEqual(before);
    expect(await generationOf(n)).toBe(gen);
  });

  it("an oversized value", async () => {
    const before = await snapshot(n.cfgDir);
    const big = join(t.dir, "big");
    await writeFile(big, Buffer.alloc(1024 * 1024 + 1, "x"));
    const r = await n.run(["set", "a/b", "--file", big]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/over the limit of 1048576 bytes/);
    expect(await snapshot(n.cfgDir)).toEqual(before);
    const small = await n.run(["set", "a/b", "--file", big], {
      env: { HFS_MAX_VALUE_BYTES: String(2 * 1024 * 1024) },
    });
    expect(small.code).toBe(0);
  });

  it("an endless value (--file /dev/zero, an endless stdin) is refused at the limit, not read whole", async () => {
    const before = await snapshot(n.cfgDir);
    const zero = await n.run(["set", "a/b", "--file", "/dev/zero"]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/over the limit of 1048576 bytes/);
    const stdin = await n.run(["set", "a/b", "-"], {
      input: "x".repeat(11),
      env: { HFS_MAX_VALUE_BYTES: "10" },
    });
    expect(stdin.code).toBe(2);
    expect(stdin.stderr).toMatch(/over the limit of 10 bytes/);
    const arg = await n.run(["set", "a/b", "x".repeat(11)], { env: { HFS_MAX_VALUE_BYTES: "10" } });
    expect(arg.code).toBe(2);
    expect(await snapshot(n.cfgDir)).toEqual(before);
  });

  it("a malformed YAML init file, even with --force", async () => {
    const before = await snapshot(n.cfgDir);
    const bad = join(t.dir, "bad.yaml");
    await writeFile(bad, "a:\n  b: [1, 2\n");
    for (const extra of [[], ["--force"]]) {
      const r = await n.run(["init", "--from", bad, ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/not valid YAML at line \d+/);
    }
    expect(await snapshot(n.cfgDir)).toEqual(before);
  });

  it("an init file with a bad key name, even with --force", async () => {
    const before = await snapshot(n.cfgDir);
    const bad = join(t.dir, "bad.json");
    await writeFile(bad, JSON.stringify({ ok: 1, nested: { "..": 2 } }));
    const r = await n.run(["init", "--from", bad, "--force"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/path step/);
    expect(await snapshot(n.cfgDir)).toEqual(before);
  });

  it("a file that is not a backup", async () => {
    const before = await snapshot(n.cfgDir);
    const bad = join(t.dir, "bad.tgz");
    await writeFile(bad, "not a tarball");
    const r = await n.run(["restore", bad, "--force"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a readable hfs-config backup/);
    expect(await snapshot(n.cfgDir)).toEqual(before);
  });
});

describe("type clashes", () => {
  it("a value cannot become a directory implicitly, nor the reverse", async () => {
    const n = await dirNode(t.dir);
    await n.run(["set", "a", "1"]);
    const r = await n.run(["set", "a/b", "2"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/a is a value, not a directory/);
    await n.run(["set", "d/x", "1"]);
    const r2 = await n.run(["set", "d", "2"]);
    expect(r2.code).toBe(4);
    expect(r2.stderr).toMatch(/is a directory/);
  });

  it("a re-created key continues its version, so an old --if-version never matches", async () => {
    const n = await dirNode(t.dir);
    await n.run(["set", "k", "1"]);
    await n.run(["rm", "k"]);
    const r = await n.run(["set", "k", "2", "--json"]);
    expect(JSON.parse(r.stdout).version).toBe(3);
    expect((await n.run(["set", "k", "3", "--if-version", "1"])).code).toBe(4);
  });
});
