import { UnavailableError } from "../errors.js";
import type { RemoteWriter, WriteOptions, WriteResult } from "../store/index.js";
import { fromWire, type WireError } from "./control-client.js";
import { BadReplyError, requestOverSocket, type SocketReply } from "./socket-http.js";

/** The wire form of one write a client hands its daemon (POST /v1/write on the control socket). */
export interface WireWrite {
  op: "set" | "rm";
  key: string;
  /** base64, for set. */
  value?: string;
  ifVersion?: number;
  fencing?: { lock: string; token: number };
  recursive?: boolean;
}

/** Longer than the daemon's own wait for the write lock, so its answer (even a refusal) arrives. */
const ANSWER_TIMEOUT_MS = 180_000;

/**
 * Hands writes to this node's daemon, which commits the writes of all its clients
 * that arrive together as one request (group commit). When no daemon listens,
 * nothing was sent and the caller writes directly; once a request was sent, a lost
 * answer means the outcome is unknown (exit 5), never "not written".
 */
export function daemonWriter(socketPath: string): RemoteWriter {
  const send = async <T>(w: WireWrite): Promise<T | undefined> => {
    let res: SocketReply;
    try {
      res = await requestOverSocket(socketPath, "POST", "/v1/write", JSON.stringify(w), ANSWER_TIMEOUT_MS);
    } catch (err) {
      // Nobody listening (the connect itself failed): nothing was sent, so writing directly is safe.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ECONNREFUSED") return undefined;
      throw unknownOutcome(
        w.key,
        err instanceof BadReplyError ? "its answer was cut off" : (code ?? (err as Error).message),
      );
    }
    let parsed: { error?: WireError } & Record<string, unknown>;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      throw unknownOutcome(w.key, `it sent an unreadable answer (${res.status})`);
    }
    if (res.status === 200) return parsed as T;
    if (res.status === 404) return undefined;
    throw fromWire(parsed.error);
  };
  return {
    set: (key: string, value: Uint8Array, opts: WriteOptions) =>
      send<WriteResult>({ op: "set", key, value: Buffer.from(value).toString("base64"), ...wireOpts(opts) }),
    rm: (key: string, opts: WriteOptions & { recursive?: boolean }) =>
      send<WriteResult & { removed: string[] }>({
        op: "rm",
        key,
        ...wireOpts(opts),
        ...(opts.recursive ? { recursive: true } : {}),
      }),
  };
}

function wireOpts(o: WriteOptions): Pick<WireWrite, "ifVersion" | "fencing"> {
  return {
    ...(o.ifVersion === undefined ? {} : { ifVersion: o.ifVersion }),
    ...(o.fencing === undefined ? {} : { fencing: o.fencing }),
  };
}

function unknownOutcome(key: string, why: string): UnavailableError {
  return new UnavailableError(
    "E_OUTCOME_UNKNOWN",
    `this node's daemon took the write of ${key} but ${why}; it may or may not have happened. Read the key ('hfs-config get ${key} --json') before retrying.`,
  );
}
