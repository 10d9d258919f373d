import { readFile, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemProc } from "../../src/proc.js";
import { CLI, hfs, tempDir } from "../helpers/cli.js";
import { readPid, TestCluster } from "../helpers/cluster.js";
import { describeGluster } from "../helpers/gluster.js";
import { HandMounts } from "../helpers/hand-mount.js";

const NODES = ["n1", "n2", "n3"];

/**
 * TLS between clients and bricks, with certificates from `hfs-config certs`: a client in the clear,
 * with another CA's certificate, or with the cluster CA's certificate for a name that is no member,
 * is refused from a member's own address; the cluster serves, fails over and heals as before.
 */
describeGluster("TLS between clients and bricks", () => {
  let c: TestCluster;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let hand: HandMounts;
  let ca: string;
  let otherCa: string;
  let newCa: string;
  const tryMount = (name: string, text: string) => hand.tryMount(name, text, "app");

  beforeAll(async () => {
    tmp = await tempDir("hfs-tls-");
    hand = new HandMounts(tmp.dir);
    ca = join(tmp.dir, "ca");
    otherCa = join(tmp.dir, "other-ca");
    newCa = join(tmp.dir, "new-ca");
    const state = join(tmp.dir, "admin");
    for (const [dir, names] of [
      [ca, [...NODES, "stranger"]],
      [otherCa, ["n1"]],
      // n3's new certificate runs out in 20 days: its status must say so once it uses it.
      [newCa, ["--days", "20", "n3"]],
    ] as const) {
      const r = await hfs(state, ["certs", "--out", dir, ...names]);
      expect(r.code, r.stderr).toBe(0);
    }
    // Every node trusts the cluster's CA and a new one, as in the middle of a CA rotation.
    c = await TestCluster.create(NODES, {
      setupArgs: ["--tls-dir", ca, "--tls-trust", join(newCa, "ca.pem")],
    });
    await c.serveAll();
    expect((await c.run("n1", ["set", "app/pw", "s3cret"])).code).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await hand?.cleanup();
    await c?.cleanup();
    await tmp?.cleanup();
  });

  it("every node keeps its key 0600; bricks want a certificate of a member, from the members' addresses", async () => {
    for (const n of NODES) {
      const tls = join(c.node(n).state, "tls");
      expect((await stat(tls)).mode & 0o777).toBe(0o700);
      for (const f of ["ca.pem", "node.pem", "node.key"])
        expect((await stat(join(tls, f))).mode & 0o777).toBe(0o600);
      const brickVol = await readFile(join(c.node(n).state, "volfiles", "brick.vol"), "utf8");
      expect(brickVol).toMatch(new RegExp(`option auth\\.login\\.\\S+-brick-${n}\\.ssl-allow n1,n2,n3\\n`));
      expect(brickVol).toMatch(/option auth\.addr\.\S+\.allow 127\.0\.0\.1\n/);
      expect(brickVol).toMatch(/option transport\.socket\.ssl-enabled on/);
    }
    expect((await c.run("n3", ["get", "app/pw"])).stdout).toBe("s3cret");
  });

  it("a client in the clear, with another CA's certificate, or a non-member's, is refused; with a member's it reads", async () => {
    const out = join(tmp.dir, "right.vol");
    const r = await c.run("n1", ["volfile", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const right = await readFile(out, "utf8");
    const certLine = /option transport\.socket\.ssl-own-cert \S+/g;
    const keyLine = /option transport\.socket\.ssl-private-key \S+/g;
    expect(right.match(certLine)).toHaveLength(3);
    const clear = right.replace(/^\s*option transport\.socket\.ssl-.*\n/gm, "");
    const withCert = (dir: string, name: string) =>
      right
        .replace(certLine, `option transport.socket.ssl-own-cert ${join(dir, `${name}.pem`)}`)
        .replace(keyLine, `option transport.socket.ssl-private-key ${join(dir, `${name}.key`)}`);
    // At once: a client whose handshake fails keeps retrying until the wait runs out.
    const tries = [
      ["clear", clear],
      ["other-ca", withCert(otherCa, "n1")],
      ["stranger", withCert(ca, "stranger")],
    ] as const;
    const mounts = await Promise.all(tries.map(([name, text]) => tryMount(name, text)));
    for (const [i, m] of mounts.entries()) expect(m.answered, `${tries[i]?.[0]}: ${m.ls}`).toBe(false);
    // The same harness with a member's certificate reads the tree: the refusals above are the bricks'.
    const ok = await tryMount("right", right);
    expect(ok.answered, ok.ls).toBe(true);
    expect(ok.ls).toBe("pw");
    // The stranger got through the handshake (the cluster's CA signed it) and was refused by name.
    expect(await readFile(hand.log("stranger"), "utf8")).toMatch(
      /AUTH_FAILED|Authentication failed|authentication failed/i,
    );
  }, 180_000);

  it("with TLS on, a killed brick is restarted and healed, and writes go on meanwhile", async () => {
    const brickPid = await readPid(join(c.node("n3").state, "run", "brick.pid"));
    expect(brickPid).toBeDefined();
    process.kill(brickPid as number, "SIGKILL");
    const w = await c.run("n1", ["set", "app/after", "x"]);
    expect(w.code, w.stderr).toBe(0);
    await c.waitFor(
      "n3's brick holds the write made while it was down",
      async () =>
        (await readFile(join(c.brickDir("n3"), "app", "after"), "utf8").catch(() => "")) === "x" || undefined,
      120_000,
    );
    expect((await c.run("n3", ["get", "app/after"])).stdout).toBe("x");
  }, 180_000);

  it("repair works with TLS: its repair mount and glfsheal speak TLS too", async () => {
    const r = await c.run("n1", ["repair", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.splitBrain).toEqual([]);
    expect(report.healed).toBe(true);
    expect(await readFile(join(c.node("n1").state, "run", "repair.vol"), "utf8")).toMatch(
      /option transport\.socket\.ssl-enabled on/,
    );
  }, 180_000);

  it("the status port answers members and loopback; another address gets 403 and nothing of the cluster", async () => {
    // An address of this host that is neither loopback nor a member's: a stranger on the network.
    const stranger = "10.213.7.1";
    const add = await systemProc.run("ip", ["addr", "add", `${stranger}/32`, "dev", "lo"]);
    expect(add.code, add.stderr).toBe(0);
    try {
      const get = (localAddress: string, path: string) =>
        new Promise<{ code: number; body: string }>((resolve, reject) => {
          const req = request(
            { host: "127.0.0.1", port: c.node("n1").statusPort, path, localAddress, timeout: 5_000 },
            (res) => {
              let body = "";
              res.setEncoding("utf8");
              res.on("data", (d: string) => {
                body += d;
              });
              res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
            },
          );
          req.on("error", reject);
          req.end();
        });
      for (const path of ["/v1/status", "/metrics"]) {
        const refused = await get(stranger, path);
        expect(refused.code, path).toBe(403);
        expect(refused.body).toMatch(/"code":"E_FORBIDDEN"/);
        expect(refused.body).not.toMatch(/n2|n3|servers|generation/);
        expect((await get("127.0.0.1", path)).code, path).toBe(200);
      }
    } finally {
      await systemProc.run("ip", ["addr", "del", `${stranger}/32`, "dev", "lo"]);
    }
  });

  it("a CA rotation's middle round: n3 on the new CA's certificate works with n1 and n2 on the old one", async () => {
    const r = await c.run("n3", [
      "setup",
      ...c.setupArgs("n3"),
      "--force",
      "--tls-dir",
      newCa,
      "--tls-trust",
      join(ca, "ca.pem"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    await c.stopDaemon("n3");
    c.startDaemon("n3");
    await c.waitReady("n3", NODES, 120_000);
    const w = await c.run("n3", ["set", "app/rotated", "y"]);
    expect(w.code, w.stderr).toBe(0);
    expect((await c.run("n1", ["get", "app/rotated"])).stdout).toBe("y");
    for (const n of NODES) {
      await c.waitFor(
        `${n}'s brick holds n3's write`,
        async () =>
          (await readFile(join(c.brickDir(n), "app", "rotated"), "utf8").catch(() => "")) === "y" ||
          undefined,
        60_000,
      );
    }
    const st = await c.run("n3", ["status", "--json"]);
    expect(st.code).toBe(1);
    expect(JSON.parse(st.stdout).health.reasons).toContainEqual(
      expect.objectContaining({ kind: "tls-cert-expiring", detail: expect.stringMatching(/in 20 days/) }),
    );
    expect(await readFile(join(c.node("n3").state, "tls", "node.pem"), "utf8")).toBe(
      await readFile(join(newCa, "n3.pem"), "utf8"),
    );
  }, 240_000);

  it("init --force of 300 keys on GlusterFS shows its progress on a terminal and finishes", async () => {
    const yaml = join(tmp.dir, "big.yaml");
    const lines = ["app:"];
    for (let i = 0; i < 300; i++) lines.push(`  k${String(i).padStart(3, "0")}: value-${i}`);
    await writeFile(yaml, `${lines.join("\n")}\n`);
    // script(1) gives the command a pseudo-terminal, as an administrator's shell would.
    const r = await systemProc.run(
      "script",
      [
        "-qec",
        `${process.execPath} ${CLI} --state-dir ${c.node("n2").state} init --force --from ${yaml}`,
        "/dev/null",
      ],
      { timeoutMs: 180_000 },
    );
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("\r\x1b[Kinit: reading");
    expect(r.stdout).toContain("\r\x1b[Kinit: writing 300 keys in one commit");
    expect(r.stdout).toMatch(/initialized 300 keys \(generation \d+\)/);
    expect((await c.run("n3", ["get", "app/k299"])).stdout).toBe("value-299");
  }, 240_000);
});
