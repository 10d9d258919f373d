import { appendFileSync, fstatSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** Where a daemon's log lines go: chosen once, at start. */
export interface LogSinks {
  stream: NodeJS.WritableStream;
  /** The log file; undefined when the journal keeps the lines (under systemd). */
  file: string | undefined;
  /** Prefix each line with its syslog priority (`<4>`), which the journal reads as the line's level. */
  priorities: boolean;
  /** The file is moved to FILE.1 once it holds this many bytes. */
  maxFileBytes: number;
}

export const DEFAULT_LOG_FILE_BYTES = 10 * 1024 * 1024;

const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };

/**
 * systemd sets JOURNAL_STREAM to the device and inode of the journal's stream when
 * stderr is connected to it. Then the journal is the log: a file beside it would
 * be a second copy of every line.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!m) return false;
  try {
    const st = fstatSync(fd);
    return String(st.dev) === m[1] && String(st.ino) === m[2];
  } catch {
    return false;
  }
}

export function defaultSinks(file: string | undefined): LogSinks {
  const journal = stderrIsJournal();
  return {
    stream: process.stderr,
    file: journal ? undefined : file,
    priorities: journal,
    maxFileBytes: DEFAULT_LOG_FILE_BYTES,
  };
}

/** One JSON object a line, to stderr and (unless the journal has them) to a bounded log file. */
export function jsonLogger(node: string, sinks: LogSinks): Logger {
  const { file, stream, priorities, maxFileBytes } = sinks;
  let size = 0;
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    size = fileSize(file);
  }
  return {
    log(level, msg, fields = {}) {
      const line = `${JSON.stringify({ ts: new Date().toISOString(), level, node, msg, ...fields })}\n`;
      stream.write(priorities ? `<${PRIORITY[level]}>${line}` : line);
      if (!file) return;
      try {
        if (size + line.length > maxFileBytes && size > 0) {
          // One older file is kept: enough to read what led up to now, bounded on disk.
          renameSync(file, `${file}.1`);
          size = 0;
        }
        appendFileSync(file, line, { mode: 0o600 });
        size += Buffer.byteLength(line);
      } catch {
        // A full or vanished log disk must not stop the daemon; stderr still has the line.
      }
    },
  };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export const silentLogger: Logger = { log() {} };
