import { readFile } from "node:fs/promises";
import type { VolfileAuth, VolfileTls } from "../gluster/volfile.js";
import type { NodeConfig } from "./config.js";
import { readSecret, volumeAuth } from "./secret.js";
import type { StatePaths } from "./state-dir.js";
import { certNotAfter, installedTlsFiles, readInstalledTls } from "./tls.js";

/** How this node's volfiles make the bricks let it in: TLS, else the secret's login, else its address. */
export interface VolumeAccess {
  auth?: VolfileAuth;
  tls?: VolfileTls;
}

/** When this node's installed certificate expires; undefined without TLS. */
export async function installedCertNotAfter(paths: StatePaths): Promise<number | undefined> {
  const f = installedTlsFiles(paths);
  const pem = await readFile(f.certFile, "utf8").catch(() => undefined);
  return pem === undefined ? undefined : certNotAfter(pem);
}

/**
 * With TLS the certificate is the login (GlusterFS takes its common name as the user and ignores a
 * password), so a secret left beside it goes unused.
 */
export async function readVolumeAccess(paths: StatePaths, cfg: NodeConfig, now: Date): Promise<VolumeAccess> {
  const tls = await readInstalledTls(paths, cfg.name, now);
  if (tls !== undefined) return { tls };
  const auth = volumeAuth(cfg.volume, await readSecret(paths));
  return auth === undefined ? {} : { auth };
}
