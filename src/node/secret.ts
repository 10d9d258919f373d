import { readFile } from "node:fs/promises";
import { CorruptError, InvalidInputError, isErrno } from "../errors.js";
import type { VolfileAuth } from "../gluster/volfile.js";
import { writeFileAtomic } from "../local-file.js";
import type { StatePaths } from "./state-dir.js";

/** At least 128 bits as hex or base64, in the characters a volfile option can carry. */
const SECRET_RE = /^[A-Za-z0-9_.+/=@%:-]{32,512}$/;

/** The check of a secret's text, for setup and for the file the daemon reads (pure). */
export function parseSecret(text: string, where: string): string {
  const s = text.trim();
  if (!SECRET_RE.test(s)) {
    throw new InvalidInputError(
      "E_BAD_SECRET",
      `${where}: a volume secret is 32 to 512 characters of letters, digits and _.+/=@%:- (no spaces). Make one with 'openssl rand -hex 32'.`,
    );
  }
  return s;
}

/** Reads and checks a secret file given to `setup --secret-file`; nothing is written. */
export async function readSecretFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (isErrno(err)) {
      throw new InvalidInputError(
        "E_BAD_SECRET",
        `--secret-file ${file}: ${err.code}; give a readable file.`,
      );
    }
    throw err;
  }
  return parseSecret(text, `--secret-file ${file}`);
}

/** Keeps the cluster's secret in the state dir, 0600. */
export async function installSecret(paths: StatePaths, secret: string): Promise<void> {
  await writeFileAtomic(paths.secretFile, `${secret}\n`, 0o600);
}

/** This node's volume secret; undefined when the cluster runs without one. */
export async function readSecret(paths: StatePaths): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(paths.secretFile, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  try {
    return parseSecret(text, paths.secretFile);
  } catch (err) {
    throw new CorruptError(paths.secretFile, `${(err as Error).message} Run setup again with --secret-file`);
  }
}

/**
 * The bricks' login: one user per volume, the secret as its password. With it the
 * bricks accept only clients that log in (protocol/server lets in a client that
 * any auth module accepts, so address checks are dropped rather than added).
 */
export function volumeAuth(volume: string, secret: string | undefined): VolfileAuth | undefined {
  return secret === undefined ? undefined : { username: `hfs-${volume}`, password: secret };
}
