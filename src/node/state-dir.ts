import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** --state-dir, then HFS_STATE_DIR, then /var/lib/hfs-config for root or the XDG state dir. */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.HFS_STATE_DIR) return resolve(env.HFS_STATE_DIR);
  if (process.getuid?.() === 0) return "/var/lib/hfs-config";
  const xdg = env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(xdg, "hfs-config");
}

/** Node-local paths, never replicated. */
export class StatePaths {
  constructor(readonly dir: string) {}
  get nodeFile() {
    return join(this.dir, "node.json");
  }
  get brickDir() {
    return join(this.dir, "brick");
  }
  get volfilesDir() {
    return join(this.dir, "volfiles");
  }
  get runDir() {
    return join(this.dir, "run");
  }
  get logDir() {
    return join(this.dir, "log");
  }
  get mountsDir() {
    return join(this.dir, "mounts");
  }
  /** Symlink to the mount in use; the config fs path for the gluster engine. */
  get currentMount() {
    return join(this.dir, "config");
  }
  get backupsDir() {
    return join(this.dir, "backups");
  }
  /** The daemon's control socket (mode 0600: only root on this node talks to it). */
  get controlSocket() {
    return join(this.runDir, "control.sock");
  }
  get daemonPidFile() {
    return join(this.runDir, "daemon.pid");
  }
  /** The cluster's volume secret (0600), when bricks require a login. */
  get secretFile() {
    return join(this.dir, "secret");
  }
  /** This node's TLS material (0700 dir, 0600 files), when the cluster runs TLS. */
  get tlsDir() {
    return join(this.dir, "tls");
  }
  /**
   * Beside the state dir, not in it: the read socket's dir (0750, root and the read group). The state
   * dir stays 0700, so a reader reaches nothing else of it.
   */
  get readDir() {
    return `${this.dir}.read`;
  }
  get readSocket() {
    return join(this.readDir, "read.sock");
  }
  get daemonLog() {
    return join(this.logDir, "daemon.log");
  }
}
