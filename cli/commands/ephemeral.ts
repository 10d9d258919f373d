import { setEphemeral } from "../../src/coord/index.js";
import { ExitCode } from "../../src/errors.js";
import type { Fencing, Store } from "../../src/store/index.js";
import type { Context } from "../context.js";
import { exit } from "../exit.js";
import { onStopSignals } from "./coord.js";

export interface EphemeralCliOptions {
  ifVersion?: number;
  fencing?: Fencing;
}

/**
 * `set KEY VALUE --ephemeral --ttl S`: writes the entry under a lease, prints the
 * usual version line, then holds it until SIGINT/SIGTERM/SIGHUP, when it removes
 * the entry and exits 0. A lost lease (this process stalled, or a sweeper judged
 * it dead) is exit 4. After kill -9 the entry goes when a sweeper (the node
 * daemon's) sees the lease stop beating: within the TTL.
 */
export async function runEphemeral(
  ctx: Context,
  store: Store,
  key: string,
  value: Buffer,
  ttl: number,
  opts: EphemeralCliOptions = {},
): Promise<void> {
  // Signals that arrive while the entry is being written still end in a clean close.
  let stop: (sig: NodeJS.Signals) => void = () => {};
  let stopped: NodeJS.Signals | undefined;
  const off = onStopSignals((sig) => {
    stopped ??= sig;
    stop(sig);
  });
  const handle = await setEphemeral(store, key, value, {
    ttlMs: ttl * 1000,
    ifVersion: opts.ifVersion,
    fencing: opts.fencing,
  });
  ctx.out(
    { key: handle.key, version: handle.version, generation: handle.generation, ephemeral: true, ttl },
    (r) => `${r.key}: version ${r.version} (generation ${r.generation})`,
  );
  if (!ctx.json && process.stderr.isTTY) {
    process.stderr.write(
      `hfs-config: holding ephemeral ${handle.key} (TTL ${ttl}s); Ctrl-C removes it and exits.\n`,
    );
  }
  const outcome = await new Promise<{ lost?: Error }>((resolve) => {
    if (stopped) return resolve({});
    stop = () => resolve({});
    handle.onLost((reason) => resolve({ lost: reason }));
  });
  await handle.close();
  off();
  if (outcome.lost) {
    process.stderr.write(
      `hfs-config: ephemeral ${handle.key} lost its lease: ${outcome.lost.message} The entry is gone or about to go; run the command again to re-create it.\n`,
    );
    exit(ExitCode.conflict);
  }
  exit(ExitCode.ok);
}
