import { request } from "node:http";
import { isIP } from "node:net";

export interface PeerTarget {
  name: string;
  address: string;
  port: number;
}

export interface PeerReply {
  status: number;
  contentType: string;
  body: Buffer;
}

/** The connection was never made, so the request was never sent: the caller may do the work itself. */
export class NotSentError extends Error {
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(`could not reach ${target}: ${reason}`);
  }
}

/** POSTs one request to a peer's status port and gives its whole answer (injectable for tests). */
export type PeerPost = (
  to: PeerTarget,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  t: { connectMs: number; answerMs: number },
) => Promise<PeerReply>;

const ANSWER_LIMIT = 1024 * 1024;

/**
 * A fresh connection per request, closed after the answer: a request on a kept-alive connection
 * that the peer closes at the same moment fails the same way whether or not the peer read it,
 * and a write's outcome must be known to be unknown, not guessed. Until the connection is made
 * nothing is sent (NotSentError); after that any failure is the caller's "outcome unknown".
 */
export function httpPeerPost(localAddress?: string): PeerPost {
  return (to, path, headers, body, t) =>
    new Promise((resolve, reject) => {
      let connected = false;
      const req = request({
        host: to.address,
        port: to.port,
        path,
        method: "POST",
        agent: false,
        headers: { ...headers, "content-length": String(body.length), connection: "close" },
        ...(localAddress !== undefined && isIP(localAddress) !== 0 ? { localAddress } : {}),
      });
      const connectTimer = setTimeout(() => {
        if (!connected) req.destroy(new NotSentError(to.name, `no connection within ${t.connectMs} ms`));
      }, t.connectMs);
      req.on("socket", (sock) => {
        sock.once("connect", () => {
          connected = true;
          clearTimeout(connectTimer);
          req.setTimeout(t.answerMs, () => req.destroy(new Error(`no answer within ${t.answerMs} ms`)));
        });
      });
      req.on("error", (err) => {
        clearTimeout(connectTimer);
        if (err instanceof NotSentError) return reject(err);
        if (!connected)
          return reject(new NotSentError(to.name, (err as NodeJS.ErrnoException).code ?? err.message));
        reject(err);
      });
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > ANSWER_LIMIT) req.destroy(new Error("answer too large"));
          else chunks.push(c);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      });
      req.end(body);
    });
}
