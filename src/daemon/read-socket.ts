import { chmod, chown, mkdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { InvalidInputError } from "../errors.js";
import type { StatePaths } from "../node/state-dir.js";
import type { Store, Tree } from "../store/store.js";
import { send, sendError } from "./http.js";

/** What a member of the read group may do: read, and nothing else. */
export type ReadStore = Pick<Store, "get" | "ls" | "readTree">;

/** A tree on the wire: a value as `{ v: base64 }`, a directory as `{ d: {...} }`. */
export type WireTree = { [name: string]: { v: string } | { d: WireTree } };

export function treeToWire(t: Tree): WireTree {
  return Object.fromEntries(
    Object.entries(t).map(([k, v]) => [
      k,
      Buffer.isBuffer(v) ? { v: v.toString("base64") } : { d: treeToWire(v) },
    ]),
  );
}

export function treeFromWire(t: WireTree): Tree {
  return Object.fromEntries(
    Object.entries(t).map(([k, v]) => [k, "v" in v ? Buffer.from(v.v, "base64") : treeFromWire(v.d)]),
  );
}

/** GET /v1/read/{get,ls,tree}?key=K[&recursive=1]; every other request is refused. */
export function readHandler(store: ReadStore) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://read");
    if (req.method !== "GET") {
      return sendError(res, new InvalidInputError("E_METHOD", "the read socket only reads: use GET"));
    }
    const key = url.searchParams.get("key") ?? "";
    const answer = async (): Promise<unknown> => {
      switch (url.pathname) {
        case "/v1/read/get": {
          const r = await store.get(key);
          return r.kind === "value" ? { ...r, value: r.value.toString("base64") } : r;
        }
        case "/v1/read/ls":
          return {
            keys: await store.ls(key === "" ? undefined : key, {
              recursive: url.searchParams.get("recursive") === "1",
            }),
          };
        case "/v1/read/tree":
          return { tree: treeToWire(await store.readTree(key)) };
        default:
          throw new InvalidInputError(
            "E_NOT_FOUND",
            `${url.pathname}: the read socket serves /v1/read/get, /v1/read/ls and /v1/read/tree only`,
          );
      }
    };
    answer().then(
      (body) => send(res, 200, body),
      (err: unknown) => sendError(res, err),
    );
  };
}

/**
 * Opens the read socket for `gid`: its dir 0750 and the socket 0660, both root:gid, so the group's
 * members can connect and no one else can.
 */
export async function listenRead(paths: StatePaths, store: ReadStore, gid: number): Promise<Server> {
  await mkdir(paths.readDir, { recursive: true, mode: 0o750 });
  await chown(paths.readDir, 0, gid);
  await chmod(paths.readDir, 0o750);
  await rm(paths.readSocket, { force: true });
  const srv = createServer(readHandler(store));
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(paths.readSocket, () => resolve());
  });
  await chown(paths.readSocket, 0, gid);
  await chmod(paths.readSocket, 0o660);
  return srv;
}

/** Without a read group the socket and its dir go: a group dropped at setup loses its access. */
export async function removeRead(paths: StatePaths): Promise<void> {
  await rm(paths.readDir, { recursive: true, force: true });
}
