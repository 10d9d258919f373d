import { request } from "node:http";
import { UnavailableError } from "../errors.js";
import type { RemoteWriter, WriteOptions, WriteResult } from "../store/store.js";
import { fromWire } from "./control-client.js";

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
  const send = <T>(w: WireWrite): Promise<T | undefined> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify(w);
      let sent = false;
      const req = request(
        {
          socketPath,
          path: "/v1/write",
          method: "POST",
          timeout: ANSWER_TIMEOUT_MS,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => {
            text += c;
          });
          res.on("error", () => reject(unknownOutcome(w.key, "its answer was cut off")));
          res.on("end", () => {
            let parsed: { error?: { code: string; message: string; exitCode: number } } & Record<
              string,
              unknown
            >;
            try {
              parsed = JSON.parse(text);
            } catch {
              return reject(unknownOutcome(w.key, `it sent an unreadable answer (${res.statusCode})`));
            }
            if (res.statusCode === 200) resolve(parsed as T);
            else if (res.statusCode === 404) resolve(undefined);
            else reject(fromWire(parsed.error));
          });
        },
      );
      req.on("socket", (s) => {
        if (!s.connecting) sent = true;
        else s.once("connect", () => (sent = true));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err: NodeJS.ErrnoException) => {
        // Nobody listening: nothing was sent, so writing directly is safe.
        if (!sent && (err.code === "ENOENT" || err.code === "ECONNREFUSED")) return resolve(undefined);
        reject(unknownOutcome(w.key, err.code ?? err.message));
      });
      req.end(body);
    });
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
