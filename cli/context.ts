import { constants } from "node:fs";
import { access } from "node:fs/promises";
import type { Command } from "commander";
import type { ReadStore } from "../src/daemon/wire.js";
import type { NodeConfig } from "../src/node/config.js";
import { resolveStateDir, StatePaths } from "../src/node/state-dir.js";
import type { Store } from "../src/store/index.js";

export interface GlobalOptions {
  stateDir?: string;
  json?: boolean;
}

/** What every command needs, resolved from the global options. */
export class Context {
  readonly paths: StatePaths;
  readonly json: boolean;
  private cfg: NodeConfig | undefined;

  constructor(cmd: Command) {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    this.paths = new StatePaths(resolveStateDir(g.stateDir));
    this.json = Boolean(g.json);
  }

  async config(): Promise<NodeConfig> {
    // Loaded here, not at the top: a get through the daemon never reads node.json (nor loads its schema).
    const { readNodeConfig } = await import("../src/node/config.js");
    this.cfg ??= await readNodeConfig(this.paths);
    return this.cfg;
  }

  /** Sets and removals go to this node's daemon when it listens (it commits its clients' writes together). */
  async store(): Promise<Store> {
    const { openStore } = await import("../src/engine/open.js");
    return openStore(this.paths, await this.config(), { viaDaemon: true });
  }

  /**
   * For reads. Root asks this node's daemon, and reads the store itself when no daemon answers
   * (see daemonFirstReadStore). Anyone else goes through the daemon's read socket when this node
   * has a read group (`setup --group`) and they are in it; otherwise the store is opened as for
   * root, and the OS refuses it (the CLI says so).
   */
  async readStore(): Promise<ReadStore> {
    if (process.getuid?.() === 0) {
      const { daemonFirstReadStore } = await import("../src/daemon/read-client.js");
      return daemonFirstReadStore(this.paths.controlSocket, () => this.store());
    }
    const can = (path: string, mode: number) =>
      access(path, mode).then(
        () => true,
        () => false,
      );
    if (await can(this.paths.readSocket, constants.W_OK)) {
      const { remoteReadStore } = await import("../src/daemon/read-client.js");
      return remoteReadStore(this.paths.readSocket);
    }
    // In the read group (its dir lets us in) but no socket: the daemon is not running.
    if (await can(this.paths.readDir, constants.X_OK)) {
      const { UnavailableError } = await import("../src/errors.js");
      throw new UnavailableError(
        "E_DAEMON_UNREACHABLE",
        `no read socket in ${this.paths.readDir}: this node's daemon is not running. Ask root to start it (systemctl start hfs-config, or 'hfs-config daemon').`,
      );
    }
    return this.store();
  }

  /** Prints `data` as JSON with --json, else the text `render` makes of it. */
  out<T>(data: T, render: (d: T) => string | undefined): void {
    if (this.json) {
      process.stdout.write(`${JSON.stringify(data)}\n`);
      return;
    }
    const text = render(data);
    if (text !== undefined && text !== "") process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }
}

export function backupName(paths: StatePaths, op: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return `${paths.backupsDir}/${op}-${stamp}.tar.gz`;
}
