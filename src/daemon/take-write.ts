import { HfsError, InvalidInputError } from "../errors.js";
import type { Store, WriteResult } from "../store/index.js";
import type { DaemonMetrics } from "./metrics.js";
import type { WireWrite } from "./write-client.js";

/** What taking a write uses of the daemon. */
export interface WriteCore {
  readonly store: Store;
  readonly deps: { metrics?: DaemonMetrics };
  readonly forwarder: { write(w: WireWrite): Promise<WriteResult | undefined> };
  writesInFlight: number;
  noteFsError(err: unknown, where: string): void;
}

/** A client's write as the control socket or a peer hands it over; bad input is refused (exit 2). */
export function parseWireWrite(b: unknown): WireWrite {
  const bad = (why: string) => new InvalidInputError("E_BAD_REQUEST", `bad write request: ${why}`);
  if (typeof b !== "object" || b === null || Array.isArray(b)) throw bad("body must be a JSON object");
  const r = b as Record<string, unknown>;
  if (r.op !== "set" && r.op !== "rm") throw bad("op must be set or rm");
  if (typeof r.key !== "string") throw bad("key must be a string");
  if (r.ifVersion !== undefined && typeof r.ifVersion !== "number") throw bad("ifVersion must be a number");
  const f = r.fencing as { lock?: unknown; token?: unknown } | undefined;
  if (f !== undefined && (typeof f !== "object" || typeof f.lock !== "string" || typeof f.token !== "number"))
    throw bad("fencing must be {lock, token}");
  if (r.op === "set" && typeof r.value !== "string") throw bad("value must be base64 text");
  return {
    op: r.op,
    key: r.key,
    ...(r.op === "set" ? { value: r.value as string } : {}),
    ...(r.ifVersion === undefined ? {} : { ifVersion: r.ifVersion as number }),
    ...(f === undefined ? {} : { fencing: { lock: f.lock as string, token: f.token as number } }),
    ...(r.op === "rm" && r.recursive === true ? { recursive: true } : {}),
  };
}

/**
 * POST /v1/write: one client's set or rm. Handed to the cluster's committer when there is one
 * (forward.ts), else committed by this daemon's store together with whatever other clients'
 * writes arrive meanwhile (group commit).
 */
export async function takeWrite(d: WriteCore, b: unknown): Promise<unknown> {
  const w = parseWireWrite(b);
  d.writesInFlight++;
  const timed = d.deps.metrics?.writeSeconds.startTimer({ op: w.op });
  try {
    const res = (await d.forwarder.write(w)) ?? (await commitWrite(d, w));
    d.deps.metrics?.writes.inc({ op: w.op, outcome: "ok" });
    return res;
  } catch (err) {
    d.deps.metrics?.writes.inc({ op: w.op, outcome: refusal(err) ? "refused" : "unknown" });
    throw err;
  } finally {
    timed?.();
    d.writesInFlight--;
  }
}

/** Refused: the store said no before writing (exit 2, 3 or 4); anything else may have landed. */
export function refusal(err: unknown): boolean {
  return err instanceof HfsError && err.exitCode >= 2 && err.exitCode <= 4;
}

/**
 * Commits `w` in this daemon's store: a client's own write, or one the member `origin` handed over
 * (watchers then see that member as the change's node).
 */
export async function commitWrite(
  d: Pick<WriteCore, "store" | "noteFsError">,
  w: WireWrite,
  origin?: string,
): Promise<WriteResult> {
  const opts = {
    ...(w.ifVersion === undefined ? {} : { ifVersion: w.ifVersion }),
    ...(w.fencing === undefined ? {} : { fencing: w.fencing }),
    ...(origin === undefined ? {} : { origin }),
  };
  try {
    return w.op === "rm"
      ? await d.store.rm(w.key, { ...opts, recursive: w.recursive === true })
      : await d.store.set(w.key, Buffer.from(w.value as string, "base64"), opts);
  } catch (err) {
    d.noteFsError(err, "a client's write");
    throw err;
  }
}
