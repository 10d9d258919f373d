import type { Clock } from "../clock.js";
import { UnavailableError } from "../errors.js";
import type { WriteResult } from "../store/index.js";
import { fromWire, type WireError } from "./control-client.js";
import { NotSentError, type PeerPost, type PeerTarget } from "./peer-post.js";
import { nonceOf, openAnswer, type RequestSeal, sealRequest } from "./peer-seal.js";
import type { WireWrite } from "./write-client.js";

/** What a committer answers a forwarded write, sealed: committed, refused by its store, or not taken. */
export type CommitAnswer =
  | { ok: WriteResult }
  | { error: WireError }
  /** Not executed and never will be (its nonce is spent): the sender may commit it itself. */
  | { notTaken: string };

export const COMMIT_PATH = "/v1/commit";

/** Shorter than a client's wait for its own daemon (write-client.ts, 180 s), longer than the committer's lock wait (120 s). */
const ANSWER_MS = 160_000;
const CONNECT_MS = 2_000;
/** How long a committer that could not be reached, or did not take a write, is passed over. */
const SHUN_NOT_SENT_MS = 5_000;
const SHUN_BAD_ANSWER_MS = 15_000;

export interface ForwardDeps {
  self: string;
  /** The cluster's peer key, once this daemon has read it. */
  key(): Buffer | undefined;
  /** The member that commits the cluster's writes now (see chooseCommitter); undefined: nobody else. */
  committer(): PeerTarget | undefined;
  post: PeerPost;
  clock: Clock;
  log(level: "info" | "warn", msg: string, fields: Record<string, unknown>): void;
  /** A committer refused the seal: this daemon's key may be out of date. */
  keyRefused(): void;
  count?(outcome: "ok" | "refused" | "unknown" | "not-sent" | "not-taken"): void;
}

export function sealHeaders(s: RequestSeal): Record<string, string> {
  return {
    "content-type": "application/octet-stream",
    "x-hfs-from": s.from,
    "x-hfs-to": s.to,
    "x-hfs-ts": String(s.ts),
  };
}

/**
 * Hands a client's write to the member that commits for the cluster, so that every node's
 * writes share one committer's lock holds and journal entries (group commit across nodes)
 * instead of taking turns at the write lock. It only ever saves work: correctness is the
 * write lock's and the journal's, whoever commits, so whenever the committer cannot take a
 * write for sure (unreachable before anything was sent, or it answered, sealed, that it did
 * not take it) this daemon commits it itself. Once a request was sent, an answer that is lost,
 * cut off or not sealed by the committer means the outcome is unknown (exit 5), never
 * "not written", and never a reason to write it again here.
 */
export class Forwarder {
  private readonly shunned = new Map<string, number>();

  constructor(private readonly deps: ForwardDeps) {}

  /** The committer's result; undefined when this daemon should commit the write itself. */
  async write(w: WireWrite): Promise<WriteResult | undefined> {
    const d = this.deps;
    const to = d.committer();
    if (!to || to.name === d.self) return undefined;
    if ((this.shunned.get(to.name) ?? Number.NEGATIVE_INFINITY) > d.clock.monotonic()) return undefined;
    const key = d.key();
    if (!key) return undefined;
    const sealed = sealRequest(key, { from: d.self, to: to.name, ts: d.clock.now() }, w);
    let reply: Awaited<ReturnType<PeerPost>>;
    try {
      reply = await d.post(to, COMMIT_PATH, sealHeaders(sealed), sealed.body, {
        connectMs: CONNECT_MS,
        answerMs: ANSWER_MS,
      });
    } catch (err) {
      if (err instanceof NotSentError) {
        this.shun(to, SHUN_NOT_SENT_MS, `not reachable (${err.reason}): committing here`);
        d.count?.("not-sent");
        return undefined;
      }
      d.count?.("unknown");
      throw unknownOutcome(w.key, to.name, (err as Error).message);
    }
    const answer =
      reply.status === 200 && reply.contentType === "application/octet-stream"
        ? (openAnswer(key, nonceOf(sealed.body), reply.body) as CommitAnswer | undefined)
        : undefined;
    if (answer === undefined || typeof answer !== "object" || answer === null) {
      const said = plainError(reply.body);
      if (reply.status === 403) d.keyRefused();
      this.shun(
        to,
        SHUN_BAD_ANSWER_MS,
        `answered without its seal (${reply.status} ${said}): committing here`,
      );
      d.count?.("unknown");
      throw unknownOutcome(w.key, to.name, `it answered ${reply.status} ${said} without the cluster's seal`);
    }
    if ("notTaken" in answer) {
      this.shun(to, SHUN_NOT_SENT_MS, `did not take a write (${answer.notTaken}): committing here`);
      d.count?.("not-taken");
      return undefined;
    }
    if ("error" in answer) {
      const err = fromWire(answer.error);
      d.count?.(err.exitCode >= 2 && err.exitCode <= 4 ? "refused" : "unknown");
      throw err;
    }
    d.count?.("ok");
    return answer.ok;
  }

  private shun(to: PeerTarget, ms: number, why: string): void {
    const was = this.shunned.get(to.name);
    this.shunned.set(to.name, this.deps.clock.monotonic() + ms);
    if (was === undefined || was < this.deps.clock.monotonic())
      this.deps.log("warn", `committer ${to.name} ${why}`, { committer: to.name, forSeconds: ms / 1000 });
  }
}

function plainError(body: Buffer): string {
  try {
    const e = JSON.parse(body.toString("utf8")) as { error?: { code?: unknown } };
    return typeof e.error?.code === "string" ? e.error.code : "";
  } catch {
    return "";
  }
}

function unknownOutcome(key: string, committer: string, why: string): UnavailableError {
  return new UnavailableError(
    "E_OUTCOME_UNKNOWN",
    `this node's daemon handed the write of ${key} to ${committer}, which commits the cluster's writes, but ${why}; it may or may not have happened. Read the key ('hfs-config get ${key} --json') before retrying.`,
  );
}
