import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { InvalidInputError, isErrno, SetupError } from "../errors.js";
import type { VolfileTls } from "../gluster/volfile.js";
import { writeFileAtomic } from "../local-file.js";
import { ensurePrivateDir } from "./private-dir.js";
import type { StatePaths } from "./state-dir.js";

/** A node's TLS material as PEM text: the CA list (one or more CAs), its certificate and its key. */
export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** When a PEM certificate stops being valid (ms since the epoch). */
export function certNotAfter(pem: string): number {
  return new Date(new X509Certificate(pem).validTo).getTime();
}

/** Names of the files in the state dir's tls/ and in a `certs --out` directory. */
export const TLS_CA_FILE = "ca.pem";
export const tlsCertFile = (node: string) => `${node}.pem`;
export const tlsKeyFile = (node: string) => `${node}.key`;

const CLOCK_SKEW_MS = 5 * 60_000;
const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function bad(where: string, what: string, fix: string): InvalidInputError {
  return new InvalidInputError("E_BAD_TLS", `${where}: ${what}. ${fix}`);
}

const REISSUE =
  "Issue it again with 'hfs-config certs --out DIR NODE' and run 'hfs-config setup --tls-dir DIR'.";

/** The certificate's subject common name, or undefined. */
function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split("\n")) {
    if (line.startsWith("CN=")) return line.slice(3);
  }
  return undefined;
}

/**
 * Checks a node's material before it is installed or used (pure but for the clock given):
 * the bricks would otherwise refuse every handshake with nothing but a log line on the far side.
 * The certificate must name `node` as its common name (the bricks admit members by it), be in its
 * validity period at `now`, match the key, and be signed by one of the CAs in the list.
 */
export function checkTlsMaterial(m: TlsMaterial, node: string, now: Date, files: TlsMaterial): void {
  const caBlocks = m.ca.match(PEM_CERT_RE) ?? [];
  if (caBlocks.length === 0) {
    throw bad(
      files.ca,
      "holds no PEM certificate",
      "Give the CA certificate that issued the nodes' certificates.",
    );
  }
  const cas = caBlocks.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw bad(
        files.ca,
        `certificate ${i + 1} does not parse (${(err as Error).message})`,
        "Give the CA certificate in PEM.",
      );
    }
  });
  for (const ca of cas) {
    if (!ca.ca) {
      throw bad(
        files.ca,
        `${ca.subject.replaceAll("\n", ", ")} is not a CA certificate`,
        "Give the CA's certificate, not a node's.",
      );
    }
  }
  const certBlocks = m.cert.match(PEM_CERT_RE) ?? [];
  if (certBlocks.length !== 1) {
    throw bad(files.cert, `holds ${certBlocks.length} PEM certificates, not one`, REISSUE);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certBlocks[0] as string);
  } catch (err) {
    throw bad(files.cert, `does not parse (${(err as Error).message})`, REISSUE);
  }
  const cn = commonName(cert);
  if (cn !== node) {
    throw bad(
      files.cert,
      `its common name is ${JSON.stringify(cn ?? "")}, not ${JSON.stringify(node)}: the bricks admit a member by the common name of its certificate`,
      REISSUE,
    );
  }
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  // A certificate made a moment ago on a host whose clock runs a little ahead is still taken.
  if (now.getTime() < from.getTime() - CLOCK_SKEW_MS || now > to) {
    throw bad(
      files.cert,
      `valid from ${from.toISOString()} to ${to.toISOString()}, not now (${now.toISOString()})`,
      REISSUE,
    );
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(m.key);
  } catch (err) {
    throw bad(files.key, `is not a PEM private key (${(err as Error).message})`, REISSUE);
  }
  if (!cert.checkPrivateKey(key)) {
    throw bad(files.key, `is not the key of ${files.cert}`, "Give the key made with that certificate.");
  }
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    throw bad(
      files.cert,
      `was not issued by a CA in ${files.ca} (issuer ${cert.issuer.replaceAll("\n", ", ")})`,
      "Give the CA that issued it, or issue the certificate from the cluster's CA.",
    );
  }
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if (isErrno(err))
      throw bad(
        file,
        `cannot read the ${what} (${err.code})`,
        "Give a directory made by 'hfs-config certs'.",
      );
    throw err;
  }
}

/** The files `certs --out DIR` leaves for `node`: `DIR/ca.pem`, `DIR/<node>.pem`, `DIR/<node>.key`. */
export function tlsDirFiles(dir: string, node: string): TlsMaterial {
  return { ca: join(dir, TLS_CA_FILE), cert: join(dir, tlsCertFile(node)), key: join(dir, tlsKeyFile(node)) };
}

/** Reads and checks `node`'s material from a `certs --out` directory; nothing is written. */
export async function readTlsDir(
  dir: string,
  node: string,
  now: Date,
  trust: readonly string[] = [],
): Promise<TlsMaterial> {
  const files = tlsDirFiles(dir, node);
  // One at a time, so the file named in an error is always the first one missing.
  let ca = await readPem(files.ca, "CA list");
  // More CAs to trust during a rotation (`setup --tls-trust`): the list is checked as a whole below.
  for (const file of trust)
    ca = `${ca.trimEnd()}\n${(await readPem(file, "CA certificate to trust")).trimEnd()}\n`;
  const cert = await readPem(files.cert, `certificate of ${node}`);
  const key = await readPem(files.key, `private key of ${node}`);
  const m = { ca, cert, key };
  checkTlsMaterial(m, node, now, { ...files, ca: [files.ca, ...trust].join(" + ") });
  return m;
}

/** Where the installed material lives, as the volfiles name it. */
export function installedTlsFiles(paths: StatePaths): VolfileTls {
  return {
    caFile: join(paths.tlsDir, "ca.pem"),
    certFile: join(paths.tlsDir, "node.pem"),
    keyFile: join(paths.tlsDir, "node.key"),
  };
}

/** Keeps the material in STATE/tls (0700), each file 0600: the key must stay root's. */
export async function installTls(paths: StatePaths, m: TlsMaterial): Promise<void> {
  await ensurePrivateDir(paths.tlsDir);
  const f = installedTlsFiles(paths);
  await writeFileAtomic(f.keyFile, m.key, 0o600);
  await writeFileAtomic(f.certFile, m.cert, 0o600);
  await writeFileAtomic(f.caFile, m.ca, 0o600);
}

/** Turns TLS off on this node (`setup --no-tls`). */
export async function removeTls(paths: StatePaths): Promise<void> {
  await rm(paths.tlsDir, { recursive: true, force: true });
}

/**
 * This node's TLS files, checked; undefined when the cluster runs without TLS (no STATE/tls).
 * Half a set, or material that fails the check, is an error: running without TLS instead would
 * leave a node the bricks refuse, or bricks that admit clients in the clear.
 */
export async function readInstalledTls(
  paths: StatePaths,
  node: string,
  now: Date,
): Promise<VolfileTls | undefined> {
  const f = installedTlsFiles(paths);
  const texts: string[] = [];
  let missing = 0;
  for (const file of [f.caFile, f.certFile, f.keyFile]) {
    try {
      texts.push(await readFile(file, "utf8"));
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
      missing++;
      texts.push("");
    }
  }
  if (missing === 3) return undefined;
  const fix =
    "Run 'hfs-config setup --force --tls-dir DIR' with fresh material (or --no-tls to run without TLS).";
  if (missing > 0) {
    throw new SetupError(
      "E_TLS_STATE",
      `${paths.tlsDir}: ca.pem, node.pem and node.key are not all there. ${fix}`,
    );
  }
  const files = { ca: f.caFile, cert: f.certFile, key: f.keyFile };
  try {
    checkTlsMaterial(
      { ca: texts[0] as string, cert: texts[1] as string, key: texts[2] as string },
      node,
      now,
      files,
    );
  } catch (err) {
    throw new SetupError("E_TLS_STATE", `${(err as Error).message} ${fix}`);
  }
  return f;
}
