import { parseLockName } from "../src/lock-name.js";
import { InvalidArgumentError } from "./commander.js";

/** Option parsers for commander; a bad value becomes a usage error (exit 2). */
export function wholeNumber(what: string, min = 0) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Number(raw) < min) {
      throw new InvalidArgumentError(`${what} must be a whole number >= ${min}, got ${JSON.stringify(raw)}.`);
    }
    return Number(raw);
  };
}

export function seconds(what: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(
        `${what} must be a positive number of seconds, got ${JSON.stringify(raw)}.`,
      );
    }
    return n;
  };
}

export function fencing(raw: string): { lock: string; token: number } {
  const m = /^(.*):(\d+)$/.exec(raw);
  if (!m || !Number.isSafeInteger(Number(m[2])))
    throw new InvalidArgumentError(
      `--fencing takes LOCK:TOKEN (e.g. deploy:17), got ${JSON.stringify(raw)}.`,
    );
  try {
    return { lock: parseLockName(m[1] as string), token: Number(m[2]) };
  } catch (err) {
    throw new InvalidArgumentError(`--fencing ${(err as Error).message}`);
  }
}
