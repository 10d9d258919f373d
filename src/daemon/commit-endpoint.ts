import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../clock.js";
import { HfsError } from "../errors.js";
import type { WriteResult } from "../store/index.js";
import { toWire } from "./control-client.js";
import type { CommitAnswer } from "./forward.js";
import { openRequest, ReplayGuard, sealAnswer } from "./peer-seal.js";
import { send } from "./reply.js";
import { parseWireWrite } from "./take-write.js";
import type { WireWrite } from "./write-client.js";

export interface CommitEndpointDeps {
  self: string;
  key(): Buffer | undefined;
  /** Null when this daemon takes other members' writes now; else why not (it then says so, sealed). */
  refuses(): string | null;
  /** Commits a write the member `from` (its sender, as the seal proves) handed over. */
  commit(w: WireWrite, from: string): Promise<WriteResult>;
  clock: Clock;
  log(level: "warn", msg: string, fields: Record<string, unknown>): void;
  /** A request did not open under this daemon's key: the key may have changed since it was read. */
  forged(): void;
  count?(outcome: "ok" | "refused" | "unknown" | "not-taken" | "refused-seal"): void;
}

/** A sealed value of the largest size the store takes, as base64 in JSON, with room for the rest. */
const BODY_LIMIT = 64 * 1024 * 1024 + 64 * 1024;

/**
 * POST /v1/commit on the status port: a write another member's daemon hands this one to
 * commit (forward.ts). The status port already answers members' addresses only; the seal
 * is what lets a request in (peer-seal.ts). A request this daemon does not take is answered
 * sealed with `notTaken` only when it can never be taken later (its nonce is spent), so its
 * sender may commit it itself; a request that may be a copy of one taken before is refused
 * without a seal, which its sender must read as "outcome unknown".
 */
export function commitEndpoint(deps: CommitEndpointDeps) {
  const guard = new ReplayGuard(deps.clock.now());
  return (req: IncomingMessage, res: ServerResponse, onDone: () => void = () => {}): void => {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      send(res, 405, { error: { code: "E_METHOD", message: "use POST" } });
      onDone();
      return;
    }
    readAll(req, BODY_LIMIT)
      .then(async (body) => {
        const key = deps.key();
        if (!key) {
          return send(res, 503, {
            error: {
              code: "E_NOT_COMMITTER",
              message: "this daemon has not read the cluster's peer key yet",
            },
          });
        }
        const opened = openRequest(
          key,
          deps.self,
          {
            from: String(req.headers["x-hfs-from"] ?? ""),
            to: String(req.headers["x-hfs-to"] ?? ""),
            ts: Number(req.headers["x-hfs-ts"]),
            body,
          },
          deps.clock.now(),
          guard,
        );
        const answer = (a: CommitAnswer) => {
          const sealed = sealAnswer(key, opened.nonce as Buffer, a);
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": sealed.length });
          res.end(sealed);
        };
        if (!opened.ok) {
          deps.count?.(opened.why === "early" ? "not-taken" : "refused-seal");
          if (opened.why === "early") return answer({ notTaken: "its clock is ahead of this committer's" });
          if (opened.why === "forged") deps.forged();
          deps.log("warn", `refused a forwarded write: ${SEAL_REFUSALS[opened.why]}`, {
            from: String(req.headers["x-hfs-from"] ?? "?"),
            address: req.socket.remoteAddress,
          });
          return send(res, opened.why === "forged" ? 403 : 409, {
            error: { code: "E_PEER_SEAL", message: SEAL_REFUSALS[opened.why] },
          });
        }
        const why = deps.refuses();
        if (why !== null) {
          deps.count?.("not-taken");
          return answer({ notTaken: why });
        }
        let w: WireWrite;
        try {
          w = parseWireWrite(opened.payload);
        } catch (err) {
          deps.count?.("refused");
          return answer({ error: toWire(err as HfsError) });
        }
        try {
          const ok = await deps.commit(w, opened.from);
          deps.count?.("ok");
          answer({ ok });
        } catch (err) {
          const wire =
            err instanceof HfsError
              ? toWire(err)
              : { code: "E_INTERNAL", message: (err as Error)?.message ?? String(err), exitCode: 1 };
          deps.count?.(wire.exitCode >= 2 && wire.exitCode <= 4 ? "refused" : "unknown");
          answer({ error: wire });
        }
      })
      .catch((err) => {
        if (!res.headersSent)
          send(res, 400, { error: { code: "E_BAD_REQUEST", message: (err as Error).message } });
        else res.destroy();
      })
      .finally(onDone);
  };
}

const SEAL_REFUSALS = {
  forged:
    "it is not sealed with the cluster's peer key for this node (another cluster, or a key read before it changed)",
  late: "it was sealed more than a minute ago by the sender's clock (a delayed copy, or clocks apart: run NTP)",
  replayed: "it is a copy of a request already seen",
  early: "its clock is ahead of this committer's",
} as const;

async function readAll(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
