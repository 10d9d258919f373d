import type { VolfileAuth, VolfileTls } from "../gluster/volfile.js";
import type { NodeConfig } from "./config.js";
import { readSecret, volumeAuth } from "./secret.js";
import type { StatePaths } from "./state-dir.js";
import { readInstalledTls } from "./tls.js";

/** How this node's volfiles make the bricks let it in: TLS, else the secret's login, else its address. */
export interface VolumeAccess {
  auth?: VolfileAuth;
  tls?: VolfileTls;
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
