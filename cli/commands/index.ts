import type { Command } from "commander";

type Register = (program: Command) => void;

/** Each module of commands, loaded only when one of its commands runs (or for help). */
const MODULES: Record<string, () => Promise<Register>> = {
  setup: async () => (await import("./setup.js")).registerSetup,
  reads: async () => (await import("./reads.js")).registerReads,
  writes: async () => (await import("./writes.js")).registerWrites,
  tree: async () => (await import("./tree.js")).registerTree,
  status: async () => (await import("./status.js")).registerStatus,
  cluster: async () => (await import("./cluster.js")).registerCluster,
  coord: async () => (await import("./coord.js")).registerCoord,
  service: async () => (await import("./service.js")).registerService,
  members: async () => (await import("./members.js")).registerMembers,
  certs: async () => (await import("./certs.js")).registerCerts,
  render: async () => (await import("./render.js")).registerRender,
};

const MODULE_OF: Record<string, string> = {
  setup: "setup",
  get: "reads",
  set: "writes",
  ls: "reads",
  rm: "writes",
  init: "tree",
  backup: "tree",
  restore: "tree",
  status: "status",
  daemon: "cluster",
  serve: "cluster",
  retire: "cluster",
  volfile: "cluster",
  repair: "cluster",
  watch: "coord",
  lock: "coord",
  locks: "coord",
  "install-service": "service",
  prune: "service",
  members: "members",
  certs: "certs",
  render: "render",
  wait: "render",
};

/** The command word in `argv` (after node and the script), past the global options; undefined for none. */
export function commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--state-dir") i++;
    else if (a.startsWith("--state-dir=") || a === "--json") continue;
    else return a.startsWith("-") ? undefined : a;
  }
  return undefined;
}

/**
 * Registers the commands. Only the running command's module is loaded, so `get` does not load the
 * daemon, TLS or backup code (a lighter start); help, a bare call or an unknown word load them all,
 * so commander can list them or suggest one.
 */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const word = commandWord(args);
  const mod = word === undefined ? undefined : MODULE_OF[word];
  for (const name of mod !== undefined ? [mod] : Object.keys(MODULES)) {
    const load = MODULES[name] as () => Promise<Register>;
    (await load())(program);
  }
}
