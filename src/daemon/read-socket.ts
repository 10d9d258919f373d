import { chmod, chown, lstat, mkdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { InvalidInputError, isErrno, SetupError } from "../errors.js";
import type { StatePaths } from "../node/state-dir.js";
import { send, sendError } from "./reply.js";
import { type ReadStore, treeToWire } from "./wire.js";

/**
 * GET /v1/read/{get,ls,tree}?key=K[&recursive=1]; every other request is refused. `onFsError` hears
 * of each failed read (the daemon's split-brain suspicion: EIO is how a file in split-brain answers).
 */
export function readHandler(store: ReadStore, onFsError: (err: unknown, where: string) => void = () => {}) {
  return (req: IncomingMessage, res: ServerResponse) => {
    // Everything below is answered, never thrown: a reader must not be able to stop a root daemon.
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://read");
    } catch {
      return sendError(res, new InvalidInputError("E_BAD_REQUEST", "the request's path is not a URL path"));
    }
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
          return undefined;
      }
    };
    answer().then(
      (body) =>
        body === undefined
          ? send(res, 404, {
              error: {
                code: "E_NO_ROUTE",
                message: `${url.pathname}: the read socket serves /v1/read/get, /v1/read/ls and /v1/read/tree only`,
                exitCode: 2,
              },
            })
          : send(res, 200, body),
      (err: unknown) => {
        onFsError(err, `a client reading ${key}`);
        sendError(res, err);
      },
    );
  };
}

/**
 * Opens the read socket for `gid`: its dir 0750 and the socket 0660, both root:gid, so the group's
 * members can connect and no one else can.
 */
export async function listenRead(
  paths: StatePaths,
  store: ReadStore,
  gid: number,
  onFsError?: (err: unknown, where: string) => void,
): Promise<Server> {
  await mkdir(paths.readDir, { mode: 0o750 }).catch((err: unknown) => {
    if (!isErrno(err, "EEXIST")) throw err;
  });
  // Not a symlink, and root's: chown and chmod below must not land on whatever a link points to.
  const st = await lstat(paths.readDir);
  if (!st.isDirectory() || st.uid !== 0) {
    throw new SetupError(
      "E_READ_DIR",
      `${paths.readDir} is not a directory owned by root (${st.isSymbolicLink() ? "a symlink" : `uid ${st.uid}`}): the read socket is not opened. Remove it; the daemon makes it afresh. Keep the state dir's parent writable by root only.`,
    );
  }
  await chown(paths.readDir, 0, gid);
  await chmod(paths.readDir, 0o750);
  await rm(paths.readSocket, { force: true });
  const srv = createServer(readHandler(store, onFsError));
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(paths.readSocket, () => resolve());
  });
  try {
    await chown(paths.readSocket, 0, gid);
    await chmod(paths.readSocket, 0o660);
  } catch (err) {
    await new Promise((r) => srv.close(r));
    throw err;
  }
  return srv;
}

/** Without a read group the socket and its dir go: a group dropped at setup loses its access. */
export async function removeRead(paths: StatePaths): Promise<void> {
  await rm(paths.readDir, { recursive: true, force: true });
}
