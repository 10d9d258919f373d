import { HfsError, RemoteError } from "../errors.js";
import type { GetResult, Tree } from "../store/index.js";
import { callSocket } from "./control-client.js";
import { type ReadStore, treeFromWire, type WireTree } from "./wire.js";

/** Longer than any one read of a healthy volume takes, a 1,000-entry directory included. */
const READ_TIMEOUT_MS = 60_000;

/** The store over one of the daemon's sockets: the read socket (a read group's member), or root's control socket. */
export function remoteReadStore(socketPath: string): ReadStore {
  const call = <T>(path: string, q: Record<string, string>) =>
    callSocket<T>(
      socketPath,
      "GET",
      `${path}?${new URLSearchParams(q).toString()}`,
      undefined,
      READ_TIMEOUT_MS,
    );
  return {
    async get(key: string): Promise<GetResult> {
      const r = await call<GetResult | { kind: "value"; key: string; value: string; version: number }>(
        "/v1/read/get",
        { key },
      );
      return r.kind === "value" ? { ...r, value: Buffer.from(r.value as string, "base64") } : r;
    },
    async ls(prefix?: string, opts: { recursive?: boolean } = {}): Promise<string[]> {
      const r = await call<{ keys: string[] }>("/v1/read/ls", {
        key: prefix ?? "",
        recursive: opts.recursive ? "1" : "0",
      });
      return r.keys;
    },
    async readTree(key: string): Promise<Tree> {
      return treeFromWire((await call<{ tree: WireTree }>("/v1/read/tree", { key })).tree);
    },
  };
}

/**
 * Root's reads: asked of this node's daemon, which has the store loaded and its mount pinned, so
 * the CLI does not load the store's code or the native bindings for a `get`. A read changes
 * nothing, so whenever the daemon cannot answer it (none running, no answer, a daemon too old for
 * the route) the same read is made directly on the config fs; what the daemon answered, a refusal
 * or an error of the volume's, stands, as the direct read would have met the same.
 */
export function daemonFirstReadStore(socketPath: string, direct: () => Promise<ReadStore>): ReadStore {
  const remote = remoteReadStore(socketPath);
  let fallback: Promise<ReadStore> | undefined;
  const either = async <T>(ask: (s: ReadStore) => Promise<T>): Promise<T> => {
    if (fallback === undefined) {
      try {
        return await ask(remote);
      } catch (err) {
        if (!daemonDidNotAnswer(err)) throw err;
        fallback = direct();
      }
    }
    return ask(await fallback);
  };
  return {
    get: (key) => either((s) => s.get(key)),
    ls: (prefix, opts) => either((s) => s.ls(prefix, opts)),
    readTree: (key) => either((s) => s.readTree(key)),
  };
}

function daemonDidNotAnswer(err: unknown): boolean {
  if (!(err instanceof HfsError)) return false;
  if (err.code === "E_DAEMON_UNREACHABLE" || err.code === "E_DAEMON_REPLY" || err.code === "E_NO_ROUTE")
    return true;
  // A daemon from before the read routes answers an unknown path with E_NOT_FOUND and no exit
  // code: not a missing key (exit 3, a KeyNotFoundError), so fromWire keeps it a RemoteError.
  return err instanceof RemoteError && err.code === "E_NOT_FOUND";
}
