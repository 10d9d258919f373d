import type { GetResult, Tree } from "../store/store.js";
import { callSocket } from "./control-client.js";
import { type ReadStore, treeFromWire, type WireTree } from "./read-socket.js";

/** The store as a member of the read group sees it: reads over the daemon's read socket. */
export function remoteReadStore(socketPath: string): ReadStore {
  const call = <T>(path: string, q: Record<string, string>) =>
    callSocket<T>(socketPath, "GET", `${path}?${new URLSearchParams(q).toString()}`, undefined, 60_000);
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
