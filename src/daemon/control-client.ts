import { request } from "node:http";
import {
  ConflictError,
  ExitCode,
  FencingError,
  type HfsError,
  InvalidInputError,
  KeyNotFoundError,
  SetupError,
  UnavailableError,
  VersionConflictError,
} from "../errors.js";
import type { StatePaths } from "../node/state-dir.js";

export function controlSocket(paths: StatePaths): string {
  return paths.controlSocket;
}

/** Calls this node's daemon over its control socket; errors come back as the same error classes. */
export function callDaemon<T>(
  paths: StatePaths,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 600_000,
): Promise<T> {
  return callSocket(controlSocket(paths), method, path, body, timeoutMs);
}

/** An HTTP call over one of the daemon's unix sockets (control or read). */
export function callSocket<T>(
  socketPath: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 600_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method,
        timeout: timeoutMs,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => {
          let parsed: { error?: { code: string; message: string; exitCode: number } } & Record<
            string,
            unknown
          >;
          try {
            parsed = JSON.parse(text);
          } catch {
            return reject(
              new UnavailableError(
                "E_DAEMON_REPLY",
                `the daemon sent an unreadable reply (${res.statusCode}).`,
              ),
            );
          }
          if (res.statusCode === 200) return resolve(parsed as T);
          reject(fromWire(parsed.error));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err: NodeJS.ErrnoException) => {
      reject(
        new UnavailableError(
          "E_DAEMON_UNREACHABLE",
          `this node's daemon does not answer on ${socketPath} (${err.code ?? err.message}). Start it with 'hfs-config daemon' (or your service manager).`,
        ),
      );
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** An error as it crosses the control socket; `details` lets the other side rebuild its class. */
export interface WireError {
  code: string;
  message: string;
  exitCode: number;
  details?: Record<string, unknown>;
}

export function toWire(err: HfsError): WireError {
  const out: WireError = { code: err.code, message: err.message, exitCode: err.exitCode };
  if (err instanceof VersionConflictError)
    out.details = { key: err.key, expected: err.expected, actual: err.actual };
  else if (err instanceof FencingError)
    out.details = { lock: err.lock, token: err.token, current: err.current };
  else if (err instanceof KeyNotFoundError) out.details = { key: err.key };
  return out;
}

/** The error a daemon sent, as the same class it was on the daemon's side where that matters to callers. */
export function fromWire(e: WireError | undefined): HfsError {
  if (!e) return new SetupError("E_DAEMON_NO_REASON", "the daemon failed without saying why; see its log.");
  const d = e.details ?? {};
  if (e.code === "E_VERSION_CONFLICT" && typeof d.key === "string")
    return new VersionConflictError(d.key, Number(d.expected), Number(d.actual));
  if (e.code === "E_FENCED" && typeof d.lock === "string")
    return new FencingError(d.lock, Number(d.token), Number(d.current));
  switch (e.exitCode) {
    case ExitCode.usage:
      return new InvalidInputError(e.code, e.message);
    case ExitCode.notFound:
      return Object.assign(new KeyNotFoundError(typeof d.key === "string" ? d.key : ""), {
        message: e.message,
      });
    case ExitCode.conflict:
      return new ConflictError(e.code, e.message);
    case ExitCode.unavailable:
      return new UnavailableError(e.code, e.message);
    default:
      return new SetupError(e.code, e.message);
  }
}
