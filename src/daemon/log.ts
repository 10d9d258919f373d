import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** One JSON object a line, to stderr and to the daemon's log file. */
export function jsonLogger(
  file: string | undefined,
  node: string,
  stream: NodeJS.WritableStream = process.stderr,
): Logger {
  if (file) mkdirSync(dirname(file), { recursive: true });
  return {
    log(level, msg, fields = {}) {
      const line = `${JSON.stringify({ ts: new Date().toISOString(), level, node, msg, ...fields })}\n`;
      stream.write(line);
      if (file) {
        try {
          appendFileSync(file, line, { mode: 0o600 });
        } catch {
          // A full or vanished log disk must not stop the daemon; stderr still has the line.
        }
      }
    },
  };
}

export const silentLogger: Logger = { log() {} };
