import { constants } from "node:fs";
import { access } from "node:fs/promises";
import type { Command } from "commander";
import type { ReadStore } from "../src/daemon/read-socket.js";
import { type NodeConfig, readNodeConfig } from "../src/node/config.js";
import { resolveStateDir, StatePaths } from "../src/node/state-dir.js";
import type { Store } from "../src/store/store.js";

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
    this.cfg ??= await readNodeConfig(this.paths);
    return this.cfg;
  }

  /** Sets and removals go to this node's daemon when it listens (it commits its clients' writes together). */
  async store(): Promise<Store> {
    const { openStore } = await import("../src/engine/open.js");
    return openStore(this.paths, await this.config(), { viaDaemon: true });
  }

  /**
   * For reads. Root reads the store itself; anyone else goes through the daemon's read socket when
   * this node has a read group (`setup --group`) and they are in it. Otherwise the store is opened
   * as for root, and the OS refuses it (the CLI says so).
   */
  async readStore(): Promise<ReadStore> {
    if (process.getuid?.() !== 0) {
      const usable = await access(this.paths.readSocket, constants.W_OK).then(
        () => true,
        () => false,
      );
      if (usable) {
        const { remoteReadStore } = await import("../src/daemon/read-client.js");
        return remoteReadStore(this.paths.readSocket);
      }
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
