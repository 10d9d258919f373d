import { chmod, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type CodeWith, type ExitCode, SetupError } from "../errors.js";
import type { Daemon } from "./daemon.js";
import { COMMIT_PATH } from "./forward.js";
import { buildOverview, cachedLocks } from "./overview.js";
import { readHandler } from "./read-socket.js";
import { send, sendError } from "./reply.js";
import { retire, serve } from "./serve.js";
import { cachedResolve, dnsResolve, type Resolve, statusReaderAllowed } from "./status-access.js";
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML, STATUS_PAGE_SCRIPT } from "./status-page.js";
import { takeWrite } from "./take-write.js";

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new HttpError(413, "E_TOO_LARGE", `request body over ${limit} bytes`);
  }
  if (body.trim() === "") return {};
  try {
    return JSON.parse(body);
  } catch {
    throw new HttpError(400, "E_BAD_JSON", "request body is not JSON");
  }
}

/** A request the daemon refuses before acting on it: always bad input (exit 2 at the caller). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: CodeWith<typeof ExitCode.usage>,
    message: string,
  ) {
    super(message);
  }
}

/** A value of the largest size the store takes, in base64, with room for the rest of the request. */
const WRITE_BODY_LIMIT = 64 * 1024 * 1024;

/**
 * The public endpoint every member queries: GET /v1/status (and the page and metrics), and
 * POST /v1/commit, a member's write sealed with the cluster's peer key (commit-endpoint.ts).
 */
export function statusHandler(
  d: Daemon,
  allow: ReadonlySet<string> = new Set(),
  resolve: Resolve = cachedResolve(dnsResolve),
) {
  const answer = statusAnswer(d);
  return (req: IncomingMessage, res: ServerResponse) => {
    statusReaderAllowed(req.socket.remoteAddress, d.members, allow, resolve).then(
      (ok) => {
        if (ok) return answer(req, res);
        send(res, 403, {
          error: {
            code: "E_FORBIDDEN",
            message: `${req.socket.remoteAddress ?? "this address"} is not a member of the cluster: status and metrics are for members. Add a monitor's address to HFS_STATUS_ALLOW in the daemon's environment.`,
          },
        });
      },
      (err) => sendError(res, err),
    );
  };
}

const PAGES: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: STATUS_PAGE_HTML },
  "/status.js": { type: "text/javascript; charset=utf-8", body: STATUS_PAGE_SCRIPT },
};

function statusAnswer(d: Daemon) {
  const locks = cachedLocks(async () => {
    if (!d.isReady) return [];
    const { listLocks } = await import("../coord/index.js");
    return listLocks(d.store);
  });
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const metrics = d.deps.metrics;
    const page = PAGES[path];
    if (path === COMMIT_PATH) return d.commitEndpoint(req, res);
    if (path !== "/v1/status" && path !== "/v1/overview" && !page && !(path === "/metrics" && metrics))
      return send(res, 404, {
        error: {
          code: "E_NOT_FOUND",
          message: "served here: GET / (the status page), /v1/status, /v1/overview and /metrics",
        },
      });
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, {
        error: { code: "E_METHOD", message: `${req.method} is not allowed on ${path}; use GET` },
      });
    }
    if (page) {
      res.writeHead(200, {
        "content-type": page.type,
        "content-length": Buffer.byteLength(page.body),
        "content-security-policy": STATUS_PAGE_CSP,
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : page.body);
      return;
    }
    if (path === "/v1/overview") {
      Promise.all([d.statusWithAlive(), locks()]).then(
        ([s, l]) => send(res, 200, buildOverview(s, d.answers, Date.now(), s.ready ? l : null)),
        (err) => sendError(res, err),
      );
      return;
    }
    if (path === "/metrics" && metrics) {
      metrics.text().then(
        ({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
          res.end(body);
        },
        (err) => sendError(res, err),
      );
      return;
    }
    d.statusWithAlive().then(
      (s) => send(res, 200, s),
      (err) => sendError(res, err),
    );
  };
}

/**
 * The local control endpoint, on a unix socket in the state dir (mode 0600): only
 * root on this node can make it serve, retire or repair.
 */
export function controlHandler(
  d: Daemon,
  extra: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {},
) {
  const routes: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    "/v1/serve": () => serve(d),
    "/v1/write": (b) => takeWrite(d, b),
    // A client met EIO reading the config fs: the same suspicion as the daemon's own.
    "/v1/suspect": async (b) => {
      d.noteFsError(
        Object.assign(new Error("EIO"), { code: "EIO" }),
        `a client reading ${String(b.what ?? "?")}`,
      );
      return {};
    },
    "/v1/retire": (b) => {
      if (b.node !== undefined && typeof b.node !== "string")
        throw new HttpError(400, "E_BAD_REQUEST", "node must be a string");
      return retire(d, b.node as string | undefined, b.force === true);
    },
    ...extra,
  };
  // Root's reads, so that the CLI need not load the store to answer a get (see read-client.ts).
  const reads = readHandler(d.store, (err, where) => d.noteFsError(err, where));
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (path.startsWith("/v1/read/")) return reads(req, res);
    if (path === "/v1/status" && req.method === "GET") {
      d.statusWithAlive().then(
        (s) => send(res, 200, s),
        (err) => sendError(res, err),
      );
      return;
    }
    const route = routes[path];
    if (!route)
      return send(res, 404, {
        error: { code: "E_NO_ROUTE", message: `no such endpoint ${path}`, exitCode: 2 },
      });
    if (req.method !== "POST") return send(res, 405, { error: { code: "E_METHOD", message: "use POST" } });
    readBody(req, path === "/v1/write" ? WRITE_BODY_LIMIT : undefined)
      .then((body) => {
        if (typeof body !== "object" || body === null || Array.isArray(body))
          throw new HttpError(400, "E_BAD_REQUEST", "body must be a JSON object");
        return route(body as Record<string, unknown>);
      })
      .then(
        (out) => send(res, 200, out),
        (err) => {
          if (err instanceof HttpError)
            send(res, err.status, { error: { code: err.code, message: err.message, exitCode: 2 } });
          else sendError(res, err);
        },
      );
  };
}

/** What the status port answers while the daemon is still starting (before its first observation). */
export function startingHandler(_req: IncomingMessage, res: ServerResponse): void {
  send(res, 503, { error: { code: "E_STARTING", message: "the daemon is starting; ask again in a second" } });
}

export function listenTcp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host: string,
  port: number,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer(handler);
    srv.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        reject(
          new SetupError(
            "E_PORT_IN_USE",
            `status port ${port} on ${host} is already in use (another daemon for this node?). Find it with 'ss -ltnp sport = :${port}', or choose another port with 'hfs-config setup --status-port P --force'.`,
          ),
        );
      } else if (err.code === "EADDRNOTAVAIL") {
        reject(
          new SetupError(
            "E_ADDRESS_NOT_LOCAL",
            `${host} is not an address of this machine; fix it with 'hfs-config setup --address A --force'.`,
          ),
        );
      } else reject(err);
    });
    srv.listen({ host, port }, () => resolve(srv));
  });
}

export async function listenUnix(
  handler: ReturnType<typeof controlHandler>,
  socketPath: string,
): Promise<Server> {
  await rm(socketPath, { force: true });
  const srv = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return srv;
}

/** Stops listening and closes every connection; with `drain`, connections in use are left to finish. */
export function closeServer(srv: Server | undefined, opts: { drain?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (!srv) return resolve();
    srv.close(() => resolve());
    if (opts.drain) srv.closeIdleConnections?.();
    else srv.closeAllConnections?.();
  });
}
