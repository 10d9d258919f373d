import { randomBytes } from "node:crypto";
import { access, chmod, lstat, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InvalidInputError, isErrno, SetupError } from "../errors.js";
import type { Proc } from "../proc.js";
import { checkTlsMaterial, TLS_CA_FILE, tlsCertFile, tlsKeyFile } from "./tls.js";

export const CA_KEY_FILE = "ca.key";
export const DEFAULT_CERT_DAYS = 825;
const CA_DAYS = 3650;
const KEY = "rsa:3072";

export interface CertsDeps {
  proc: Proc;
  now(): Date;
}

export interface CertsResult {
  ca: "made" | "kept";
  nodes: { name: string; outcome: "issued" | "kept" | "renewed" }[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
}

async function openssl(deps: CertsDeps, args: string[]): Promise<void> {
  const r = await deps.proc.run("openssl", args, { timeoutMs: 60_000 });
  if (r.spawnError) {
    throw new SetupError("E_OPENSSL_MISSING", "'openssl' is not installed: apt-get install -y openssl.");
  }
  if (r.code !== 0) {
    throw new SetupError(
      "E_OPENSSL_FAILED",
      `openssl ${args[0]} failed: ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
}

const NODE_EXT = [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature,keyEncipherment",
  // GlusterFS has both ends of a connection present certificates: every node is client and server.
  "extendedKeyUsage=serverAuth,clientAuth",
  "",
].join("\n");

/**
 * Makes (once) a CA in `dir` and a certificate for each node in `nodes`, common name = node name,
 * everything 0600 in a 0700 dir. A node that has one keeps it unless `renew`. Work happens in a
 * private temp dir inside `dir`, and each file is checked before it is moved in, so a failure
 * leaves what was there.
 */
/** An existing pair that no longer checks out (a crash between its two renames, an expiry) is issued anew. */
async function pairHolds(dir: string, node: string, ca: string, now: Date): Promise<boolean> {
  const files = {
    ca: join(dir, TLS_CA_FILE),
    cert: join(dir, tlsCertFile(node)),
    key: join(dir, tlsKeyFile(node)),
  };
  try {
    checkTlsMaterial(
      { ca, cert: await readFile(files.cert, "utf8"), key: await readFile(files.key, "utf8") },
      node,
      now,
      files,
    );
    return true;
  } catch {
    return false;
  }
}

/** A new dir is made 0700; an existing one must already be private (it is not narrowed: it may be /tmp). */
async function privateCaDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
    return;
  } catch (err) {
    if (!isErrno(err, "EEXIST")) throw err;
  }
  const st = await lstat(dir);
  if (!st.isDirectory() || (st.mode & 0o077) !== 0 || st.uid !== process.getuid?.()) {
    throw new InvalidInputError(
      "E_BAD_TLS",
      `--out ${dir}: ${st.isDirectory() ? `an existing directory others can enter (mode ${(st.mode & 0o777).toString(8)}) or not yours` : "not a directory"}; a CA key must not go there. Give a new directory (it is made 0700), or one of yours with mode 0700.`,
    );
  }
}

export async function makeCerts(
  deps: CertsDeps,
  dir: string,
  nodes: readonly string[],
  opts: { days: number; renew: boolean },
): Promise<CertsResult> {
  await privateCaDir(dir);
  const caPem = join(dir, TLS_CA_FILE);
  const caKey = join(dir, CA_KEY_FILE);
  const [hasCa, hasKey] = [await exists(caPem), await exists(caKey)];
  if (hasCa !== hasKey) {
    throw new InvalidInputError(
      "E_BAD_TLS",
      `${dir} holds ${hasCa ? TLS_CA_FILE : CA_KEY_FILE} without ${hasCa ? CA_KEY_FILE : TLS_CA_FILE}: a CA needs both to issue. Give the directory the CA was made in, or an empty one for a new CA.`,
    );
  }
  const work = await mkdtemp(join(dir, ".certs-"));
  try {
    const result: CertsResult = { ca: hasCa ? "kept" : "made", nodes: [] };
    if (!hasCa) {
      // A random suffix tells two CAs apart in a CA list during a rotation.
      const cn = `hfs-config CA ${randomBytes(4).toString("hex")}`;
      await openssl(deps, [
        "req",
        "-x509",
        "-new",
        "-newkey",
        KEY,
        "-nodes",
        "-sha256",
        "-keyout",
        join(work, CA_KEY_FILE),
        "-out",
        join(work, TLS_CA_FILE),
        "-days",
        String(CA_DAYS),
        "-subj",
        `/CN=${cn}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ]);
      await chmod(join(work, CA_KEY_FILE), 0o600);
      await chmod(join(work, TLS_CA_FILE), 0o600);
      await rename(join(work, CA_KEY_FILE), caKey);
      await rename(join(work, TLS_CA_FILE), caPem);
    }
    const ca = await readFile(caPem, "utf8");
    const ext = join(work, "node.ext");
    await writeFile(ext, NODE_EXT, { mode: 0o600 });
    for (const node of nodes) {
      const had = await exists(join(dir, tlsCertFile(node)));
      if (had && !opts.renew && (await pairHolds(dir, node, ca, deps.now()))) {
        result.nodes.push({ name: node, outcome: "kept" });
        continue;
      }
      const key = join(work, tlsKeyFile(node));
      const csr = join(work, `${node}.csr`);
      const cert = join(work, tlsCertFile(node));
      await openssl(deps, [
        "req",
        "-new",
        "-newkey",
        KEY,
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        `/CN=${node}`,
      ]);
      await openssl(deps, [
        "x509",
        "-req",
        "-sha256",
        "-in",
        csr,
        "-CA",
        caPem,
        "-CAkey",
        caKey,
        "-set_serial",
        `0x${randomBytes(16).toString("hex")}`,
        "-days",
        String(opts.days),
        "-extfile",
        ext,
        "-out",
        cert,
      ]);
      await chmod(key, 0o600);
      await chmod(cert, 0o600);
      const m = { ca, cert: await readFile(cert, "utf8"), key: await readFile(key, "utf8") };
      checkTlsMaterial(m, node, deps.now(), { ca: caPem, cert, key });
      await rename(key, join(dir, tlsKeyFile(node)));
      await rename(cert, join(dir, tlsCertFile(node)));
      result.nodes.push({ name: node, outcome: had ? "renewed" : "issued" });
    }
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
