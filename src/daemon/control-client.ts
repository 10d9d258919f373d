import {
  type CodeWith,
  ConflictError,
  ERROR_CODES,
  ExitCode,
  FencingError,
  type HfsError,
  InvalidInputError,
  isErrorCode,
  KeyNotFoundError,
  RemoteError,
  SetupError,
  UnavailableError,
  VersionConflictError,
} from "../errors.js";
import type { StatePaths } from "../node/state-dir.js";
import { BadReplyError, requestOverSocket } from "./socket-http.js";

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
  return requestOverSocket(
    socketPath,
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
    timeoutMs,
  ).then(
    (res) => {
      let parsed: { error?: WireError } & Record<string, unknown>;
      try {
        parsed = JSON.parse(res.body);
      } catch {
        throw new UnavailableError("E_DAEMON_REPLY", `the daemon sent an unreadable reply (${res.status}).`);
      }
      if (res.status === 200) return parsed as T;
      throw fromWire(parsed.error);
    },
    (err: NodeJS.ErrnoException) => {
      if (err instanceof BadReplyError)
        throw new UnavailableError("E_DAEMON_REPLY", `the daemon sent an unreadable reply (${err.message}).`);
      throw new UnavailableError(
        "E_DAEMON_UNREACHABLE",
        `this node's daemon does not answer on ${socketPath} (${err.code ?? err.message}). Start it with 'hfs-config daemon' (or your service manager).`,
      );
    },
  );
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

/**
 * The error a daemon sent, as the same class it was on the daemon's side where that matters to
 * callers. A code this version does not know with that exit code stays a RemoteError, as it came.
 */
export function fromWire(e: WireError | undefined): HfsError {
  if (!e) return new SetupError("E_DAEMON_NO_REASON", "the daemon failed without saying why; see its log.");
  const d = e.details ?? {};
  const code = e.code;
  if (!isErrorCode(code) || ERROR_CODES[code].exit !== e.exitCode)
    return new RemoteError(String(code), wireExit(e.exitCode), e.message);
  if (code === "E_VERSION_CONFLICT" && typeof d.key === "string")
    return new VersionConflictError(d.key, Number(d.expected), Number(d.actual));
  if (code === "E_FENCED" && typeof d.lock === "string")
    return new FencingError(d.lock, Number(d.token), Number(d.current));
  if (code === "E_NOT_FOUND" && typeof d.key === "string")
    return Object.assign(new KeyNotFoundError(d.key), { message: e.message });
  // The code's exit code is the table's (checked above), so each cast below holds.
  switch (e.exitCode) {
    case ExitCode.usage:
      return new InvalidInputError(code as CodeWith<typeof ExitCode.usage>, e.message);
    case ExitCode.conflict:
      return new ConflictError(code as CodeWith<typeof ExitCode.conflict>, e.message);
    case ExitCode.unavailable:
      return new UnavailableError(code as CodeWith<typeof ExitCode.unavailable>, e.message);
    case ExitCode.error:
      return new SetupError(code as CodeWith<typeof ExitCode.error>, e.message);
    default:
      return new RemoteError(code, wireExit(e.exitCode), e.message);
  }
}

function wireExit(n: unknown): ExitCode {
  return n === 1 || n === 2 || n === 3 || n === 4 || n === 5 ? n : ExitCode.error;
}
