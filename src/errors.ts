/**
 * Every failure a user can meet is one of these classes. Each carries a stable
 * `code` (for scripts and logs) from the table in error-codes.ts, and the CLI exit code
 * that table gives it; its message says what to do about it in the case at hand.
 */

import { type CodeWith, ExitCode } from "./error-codes.js";

export { type CodeWith, ERROR_CODES, type ErrorCode, ExitCode, isErrorCode } from "./error-codes.js";

export abstract class HfsError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input from the user: a key, value, flag, file or request. Nothing was changed. */
export class InvalidInputError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.usage>;
  readonly exitCode = ExitCode.usage;
  constructor(code: CodeWith<typeof ExitCode.usage>, message: string) {
    super(message);
    this.code = code;
  }
}

export class InvalidKeyError extends InvalidInputError {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(
      "E_KEY_INVALID",
      `invalid key ${JSON.stringify(printable(key))}: ${problem}. Keys are /-separated segments of [A-Za-z0-9_.-], no segment may start with '.', at most 255 bytes a segment and 1024 a key.`,
    );
  }
}

export class ValueTooLargeError extends InvalidInputError {
  constructor(size: number, limit: number) {
    super(
      "E_VALUE_TOO_LARGE",
      `value is ${size} bytes, over the limit of ${limit} bytes. Store large data elsewhere and keep a reference here, or raise the limit with HFS_MAX_VALUE_BYTES.`,
    );
  }
}

export class KeyNotFoundError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.notFound> = "E_NOT_FOUND";
  readonly exitCode = ExitCode.notFound;
  constructor(readonly key: string) {
    super(`key ${JSON.stringify(key)} does not exist. List what exists with 'hfs-config ls -r'.`);
  }
}

export class MemberNotFoundError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.notFound> = "E_NO_MEMBER";
  readonly exitCode = ExitCode.notFound;
  constructor(readonly member: string) {
    super(`${member} is not a member of this cluster. List the members with 'hfs-config members ls'.`);
  }
}

export class VersionConflictError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.conflict> = "E_VERSION_CONFLICT";
  readonly exitCode = ExitCode.conflict;
  constructor(
    readonly key: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      `version conflict on ${JSON.stringify(key)}: expected version ${expected}${expected === 0 ? " (must not exist)" : ""}, found ${actual}${actual === 0 ? " (does not exist)" : ""}. Read the key again and retry with --if-version ${actual}.`,
    );
  }
}

export class FencingError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.conflict> = "E_FENCED";
  readonly exitCode = ExitCode.conflict;
  constructor(
    readonly lock: string,
    readonly token: number,
    readonly current: number,
  ) {
    super(
      `write refused: fencing token ${token} for lock ${JSON.stringify(lock)} is stale, token ${current} has been issued since. This holder lost the lock; acquire it again before writing.`,
    );
  }
}

/** A state conflict other than a version: already initialized, last server, type clash. */
export class ConflictError extends HfsError {
  readonly exitCode = ExitCode.conflict;
  constructor(
    readonly code: CodeWith<typeof ExitCode.conflict>,
    message: string,
  ) {
    super(message);
  }
}

export class LockTimeoutError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.conflict> = "E_LOCK_TIMEOUT";
  readonly exitCode = ExitCode.conflict;
  constructor(
    readonly lock: string,
    seconds: number,
    holder: string,
  ) {
    super(
      `lock ${JSON.stringify(lock)} still busy after ${seconds}s (held by ${holder}). See 'hfs-config locks'; wait longer with --timeout.`,
    );
  }
}

/**
 * A render resource could not be rendered or installed on this node: a missing key, a
 * template error, a failed check, an install that failed. The old file stays in place.
 */
export class RenderError extends HfsError {
  readonly exitCode = ExitCode.error;
  /** The generation of the view it failed on, when it got that far. */
  generation: number | undefined;
  constructor(
    readonly code: CodeWith<typeof ExitCode.error>,
    readonly resource: string,
    message: string,
  ) {
    super(message);
  }
}

/** The config fs or a peer cannot be reached now; trying again later may work. */
export class UnavailableError extends HfsError {
  readonly exitCode = ExitCode.unavailable;
  constructor(
    readonly code: CodeWith<typeof ExitCode.unavailable>,
    message: string,
    /** The errno behind it, when a file operation failed (EIO is how split-brain shows). */
    readonly errno?: string,
  ) {
    super(message);
  }
}

/** Setup or environment is wrong: missing node.json, missing binaries, busy port. */
export class SetupError extends HfsError {
  readonly exitCode = ExitCode.error;
  constructor(
    readonly code: CodeWith<typeof ExitCode.error>,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An error a daemon or peer reported whose code this version does not know with that exit code
 * (a newer daemon, or an older one's): kept as it came, code, exit code and message.
 */
export class RemoteError extends HfsError {
  constructor(
    readonly code: string,
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

/** The OS refused access (EACCES/EPERM): the state dir and the config fs are root's alone. */
export class PermissionError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.error> = "E_PERMISSION";
  readonly exitCode = ExitCode.error;
  constructor(path: string | undefined, errno: string) {
    super(
      `permission denied (${errno})${path ? ` on ${path}` : ""}: a node's state dir, brick and config fs mount are readable by root only. Run the command as root (sudo hfs-config ...); reads (get, ls) also work for members of the node's read group, if it has one ('setup --group G').`,
    );
  }
}

/** node.json does not hold a node's identity: edited by hand, or written by something else. */
export class NodeConfigError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.error> = "E_BAD_NODE_CONFIG";
  readonly exitCode = ExitCode.error;
  constructor(file: string, problem: string) {
    super(
      `${file}: ${problem}. Correct it by hand, or write it again with 'hfs-config setup --name NAME --address ADDR ... --force' (the same name and address the node had).`,
    );
  }
}

/** A stored file does not parse: the config fs or state dir was damaged or edited by hand. */
export class CorruptError extends HfsError {
  readonly code: CodeWith<typeof ExitCode.error> = "E_CORRUPT";
  readonly exitCode = ExitCode.error;
  constructor(path: string, problem: string) {
    super(`${path} is damaged: ${problem}. Run 'hfs-config repair', or restore it from a backup.`);
  }
}

/** Errors from I/O on a GlusterFS mount whose outcome cannot be known (quorum lost, brick gone). */
export const OUTCOME_UNKNOWN_ERRNOS = new Set(["ENOTCONN", "EROFS", "EIO", "ESTALE"]);

/**
 * The errno name of an I/O error. Node has no name for some errnos FUSE returns
 * (ESTALE shows up as "Unknown system error -116"), so those are named here.
 */
export function errnoCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException;
  if (e.errno === -116) return "ESTALE";
  return typeof e.code === "string" ? e.code : undefined;
}

export function isErrno(err: unknown, ...codes: string[]): err is NodeJS.ErrnoException {
  const code = errnoCode(err);
  return code !== undefined && (codes.length === 0 || codes.includes(code));
}

/**
 * Turns an I/O error on the config fs into the contract's "unavailable" when
 * GlusterFS says the write may or may not have happened.
 */
export function translateFsError(err: unknown, what: string): unknown {
  const code = errnoCode(err);
  if (code !== undefined && OUTCOME_UNKNOWN_ERRNOS.has(code)) {
    return new UnavailableError(
      "E_NO_QUORUM",
      `${what} failed with ${code}: no quorum or config fs unreachable; the outcome is unknown. Check 'hfs-config status', bring servers back, then read the key again before retrying.`,
      code,
    );
  }
  return err;
}

/** EIO from the config fs: how a file in split-brain answers every read. */
export function isEio(err: unknown): boolean {
  return errnoCode(err) === "EIO" || (err instanceof UnavailableError && err.errno === "EIO");
}

function printable(s: string): string {
  const shown = s.length > 60 ? `${s.slice(0, 60)}…(${s.length} chars)` : s;
  return shown;
}
