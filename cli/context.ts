import type { Command } from "commander";
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
