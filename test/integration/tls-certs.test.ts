import { access, chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { makeCerts } from "../../src/node/cert-maker.js";
import { StatePaths } from "../../src/node/state-dir.js";
import {
  checkTlsMaterial,
  readInstalledTls,
  readTlsDir,
  type TlsMaterial,
  tlsDirFiles,
} from "../../src/node/tls.js";
import { systemProc } from "../../src/proc.js";
import { hfs, tempDir } from "../helpers/cli.js";

const NOW = new Date();
const deps = { proc: systemProc, now: () => NOW };

describe("TLS material: certs makes it, setup and the daemon check it", () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let ca1: string;
  let ca2: string;
  const pem = (dir: string, node: string) => readTlsDir(dir, node, NOW);

  beforeAll(async () => {
    tmp = await tempDir("hfs-tls-");
    ca1 = join(tmp.dir, "ca1");
    ca2 = join(tmp.dir, "ca2");
    await makeCerts(deps, ca1, ["n1", "n2"], { days: 30, renew: false });
    await makeCerts(deps, ca2, ["n1"], { days: 30, renew: false });
  }, 60_000);
  afterAll(() => tmp?.cleanup());

  it("makes a CA once and one certificate per node, 0600 in a 0700 dir; a second run keeps them", async () => {
    expect((await stat(ca1)).mode & 0o777).toBe(0o700);
    for (const f of ["ca.pem", "ca.key", "n1.pem", "n1.key", "n2.pem", "n2.key"]) {
      expect((await stat(join(ca1, f))).mode & 0o777, f).toBe(0o600);
    }
    const before = await readFile(join(ca1, "n1.pem"), "utf8");
    const again = await makeCerts(deps, ca1, ["n1", "n3"], { days: 30, renew: false });
    expect(again).toEqual({
      ca: "kept",
      nodes: [
        { name: "n1", outcome: "kept" },
        { name: "n3", outcome: "issued" },
      ],
    });
    expect(await readFile(join(ca1, "n1.pem"), "utf8")).toBe(before);
    const renewed = await makeCerts(deps, ca1, ["n3"], { days: 30, renew: true });
    expect(renewed.nodes).toEqual([{ name: "n3", outcome: "renewed" }]);
    await expect(pem(ca1, "n3")).resolves.toBeDefined();
  }, 60_000);

  it("refuses to put a CA in a directory others can enter, and leaves its mode alone", async () => {
    const shared = join(tmp.dir, "shared");
    await mkdir(shared, { mode: 0o755 });
    await chmod(shared, 0o755);
    await expect(makeCerts(deps, shared, ["n1"], { days: 1, renew: false })).rejects.toThrow(
      /an existing directory others can enter \(mode 755\)/,
    );
    expect((await stat(shared)).mode & 0o777).toBe(0o755);
  });

  it("a pair left mismatched (a crash between its renames) is issued anew, not kept", async () => {
    const dir = join(tmp.dir, "crash");
    await makeCerts(deps, dir, ["n1", "n2"], { days: 30, renew: false });
    await writeFile(join(dir, "n1.key"), await readFile(join(dir, "n2.key")));
    const r = await makeCerts(deps, dir, ["n1", "n2"], { days: 30, renew: false });
    expect(r.nodes).toEqual([
      { name: "n1", outcome: "renewed" },
      { name: "n2", outcome: "kept" },
    ]);
    await expect(readTlsDir(dir, "n1", NOW)).resolves.toBeDefined();
  }, 30_000);

  it("refuses a CA directory with a certificate and no key", async () => {
    const half = join(tmp.dir, "half");
    await makeCerts(deps, half, [], { days: 1, renew: false });
    await rm(join(half, "ca.key"));
    await expect(makeCerts(deps, half, ["n1"], { days: 1, renew: false })).rejects.toThrow(
      /holds ca\.pem without ca\.key/,
    );
  }, 30_000);

  async function material(
    caDir: string,
    certDir: string,
    node: string,
    keyDir = certDir,
  ): Promise<TlsMaterial> {
    return {
      ca: await readFile(join(caDir, "ca.pem"), "utf8"),
      cert: await readFile(join(certDir, `${node}.pem`), "utf8"),
      key: await readFile(join(keyDir, `${node}.key`), "utf8"),
    };
  }
  const files = { ca: "DIR/ca.pem", cert: "DIR/n1.pem", key: "DIR/n1.key" };
  function refusal(m: TlsMaterial, node = "n1", now = NOW): string {
    try {
      checkTlsMaterial(m, node, now, files);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).code).toBe("E_BAD_TLS");
      return (err as Error).message;
    }
    throw new Error("expected a refusal");
  }

  it("accepts a node's own certificate, and one from either CA of a two-CA list (a rotation)", async () => {
    const m1 = await material(ca1, ca1, "n1");
    expect(() => checkTlsMaterial(m1, "n1", NOW, files)).not.toThrow();
    const both = `${m1.ca}${await readFile(join(ca2, "ca.pem"), "utf8")}`;
    expect(() => checkTlsMaterial({ ...m1, ca: both }, "n1", NOW, files)).not.toThrow();
    const m2 = await material(ca2, ca2, "n1");
    expect(() => checkTlsMaterial({ ...m2, ca: both }, "n1", NOW, files)).not.toThrow();
  });

  it.each([
    [
      "another node's certificate",
      async () => ({ m: await material(ca1, ca1, "n2"), node: "n1" }),
      /DIR\/n1\.pem: its common name is "n2", not "n1"/,
    ],
    [
      "a certificate from another CA",
      async () => ({
        m: { ...(await material(ca2, ca2, "n1")), ca: await readFile(join(ca1, "ca.pem"), "utf8") },
      }),
      /was not issued by a CA in DIR\/ca\.pem/,
    ],
    [
      "a key that is not the certificate's",
      async () => ({
        m: { ...(await material(ca1, ca1, "n1")), key: await readFile(join(ca2, "n1.key"), "utf8") },
      }),
      /DIR\/n1\.key: is not the key of DIR\/n1\.pem/,
    ],
    [
      "an expired certificate",
      async () => ({ m: await material(ca1, ca1, "n1"), now: new Date(NOW.getTime() + 40 * 86_400_000) }),
      /DIR\/n1\.pem: valid from .* not now/,
    ],
    [
      "a node certificate as the CA list",
      async () => ({
        m: { ...(await material(ca1, ca1, "n1")), ca: await readFile(join(ca1, "n2.pem"), "utf8") },
      }),
      /DIR\/ca\.pem: CN=n2 is not a CA certificate/,
    ],
    [
      "an empty CA list",
      async () => ({ m: { ...(await material(ca1, ca1, "n1")), ca: "" } }),
      /DIR\/ca\.pem: holds no PEM certificate/,
    ],
    [
      "a key that is not PEM",
      async () => ({ m: { ...(await material(ca1, ca1, "n1")), key: "nonsense" } }),
      /DIR\/n1\.key: is not a PEM private key/,
    ],
    [
      "two certificates in one file",
      async () => {
        const m = await material(ca1, ca1, "n1");
        return { m: { ...m, cert: m.cert + m.cert } };
      },
      /DIR\/n1\.pem: holds 2 PEM certificates/,
    ],
  ] as const)("refuses %s, naming the file and the fix", async (_what, make, message) => {
    const c = (await make()) as { m: TlsMaterial; node?: string; now?: Date };
    const text = refusal(c.m, c.node ?? "n1", c.now ?? NOW);
    expect(text).toMatch(message);
    expect(text).toMatch(/hfs-config certs|Give/);
  });

  it("a certs directory without the node's files is refused with the file named", async () => {
    await expect(readTlsDir(ca1, "n9", NOW)).rejects.toThrow(
      new RegExp(
        `${tlsDirFiles(ca1, "n9").cert.replaceAll("/", "\\/")}: cannot read the certificate of n9 \\(ENOENT\\)`,
      ),
    );
  });

  it("setup --tls-dir checks the material before writing anything, keeps it 0600, and --no-tls removes it", async () => {
    const state = join(tmp.dir, "state");
    const base = ["setup", "--address", "127.0.0.1", "--brick-port", "24901", "--status-port", "24900"];
    const exists = (p: string) =>
      access(p).then(
        () => true,
        () => false,
      );
    const secret = join(tmp.dir, "secret");
    await writeFile(secret, `${"ab".repeat(32)}\n`, { mode: 0o600 });
    const both = await hfs(state, [...base, "--name", "n1", "--tls-dir", ca1, "--secret-file", secret]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give --tls-dir or --secret-file, not both/);
    // No certificate for n9 in ca1: refused, naming the file; no node.json, no tls/.
    const missing = await hfs(state, [...base, "--name", "n9", "--tls-dir", ca1]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/n9\.pem: cannot read the certificate of n9 \(ENOENT\)/);
    expect(await exists(join(state, "node.json"))).toBe(false);
    expect(await exists(join(state, "tls"))).toBe(false);
    const dirEngine = await hfs(state, [
      ...base,
      "--name",
      "n1",
      "--engine",
      "dir",
      "--dir",
      join(tmp.dir, "cfg"),
      "--tls-dir",
      ca1,
    ]);
    expect(dirEngine.code).toBe(2);
    expect(dirEngine.stderr).toMatch(/--tls-dir goes with the gluster engine only/);

    const ok = await hfs(state, [...base, "--name", "n1", "--tls-dir", ca1]);
    expect(ok.code, ok.stderr).toBe(0);
    const tls = join(state, "tls");
    expect((await stat(tls)).mode & 0o777).toBe(0o700);
    for (const f of ["ca.pem", "node.pem", "node.key"])
      expect((await stat(join(tls, f))).mode & 0o777, f).toBe(0o600);
    expect(await readFile(join(tls, "node.key"), "utf8")).toBe(await readFile(join(ca1, "n1.key"), "utf8"));
    const paths = new StatePaths(state);
    expect(await readInstalledTls(paths, "n1", NOW)).toEqual({
      caFile: join(tls, "ca.pem"),
      certFile: join(tls, "node.pem"),
      keyFile: join(tls, "node.key"),
    });

    // A trust file that is no CA certificate is refused and the installed list stays as it was.
    const before = await readFile(join(tls, "ca.pem"), "utf8");
    const notCa = await hfs(state, [
      ...base,
      "--name",
      "n1",
      "--force",
      "--tls-dir",
      ca1,
      "--tls-trust",
      join(ca1, "n2.pem"),
    ]);
    expect(notCa.code).toBe(2);
    expect(notCa.stderr).toMatch(/CN=n2 is not a CA certificate/);
    expect(await readFile(join(tls, "ca.pem"), "utf8")).toBe(before);
    const trust = await hfs(state, [
      ...base,
      "--name",
      "n1",
      "--force",
      "--tls-dir",
      ca1,
      "--tls-trust",
      join(ca2, "ca.pem"),
    ]);
    expect(trust.code, trust.stderr).toBe(0);
    expect((await readFile(join(tls, "ca.pem"), "utf8")).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);

    // Half a set is an error, not a quiet fall-back to the clear.
    await rm(join(tls, "node.key"));
    await expect(readInstalledTls(paths, "n1", NOW)).rejects.toThrow(
      /ca\.pem, node\.pem and node\.key are not all there/,
    );
    const off = await hfs(state, [...base, "--name", "n1", "--no-tls"]);
    expect(off.code, off.stderr).toBe(0);
    expect(await exists(tls)).toBe(false);
    expect(await readInstalledTls(paths, "n1", NOW)).toBeUndefined();
  }, 60_000);
});
