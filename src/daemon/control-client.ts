import { request } from "node:http";
import { join } from "node:path";
import {
  ConflictError,
  ExitCode,
  type HfsError,
  InvalidInputError,
  KeyNotFoundError,
  SetupError,
  UnavailableError,
} from "../errors.js";
import type { StatePaths } from "../node/state-dir.js";

export function controlSocket(paths: StatePaths): string {
  return join(paths.runDir, "control.sock");
}

/** Calls this node's daemon over its control socket; errors come back as the same error classes. */
export function callDaemon<T>(
  paths: StatePaths,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 600_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: controlSocket(paths),
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
          `this node's daemon does not answer on ${controlSocket(paths)} (${err.code ?? err.message}). Start it with 'hfs-config daemon' (or your service manager).`,
        ),
      );
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export function fromWire(e: { code: string; message: string; exitCode: number } | undefined): HfsError {
  if (!e) return new SetupError("E_DAEMON_REPLY", "the daemon failed without saying why; see its log.");
  switch (e.exitCode) {
    case ExitCode.usage:
      return new InvalidInputError(e.code, e.message);
    case ExitCode.notFound:
      return Object.assign(new KeyNotFoundError(""), { message: e.message });
    case ExitCode.conflict:
      return new ConflictError(e.code, e.message);
    case ExitCode.unavailable:
      return new UnavailableError(e.code, e.message);
    default:
      return new SetupError(e.code, e.message);
  }
}
