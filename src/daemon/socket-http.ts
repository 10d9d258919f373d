import { connect } from "node:net";

export interface SocketReply {
  status: number;
  body: string;
}

/**
 * One HTTP/1.0 request over a unix socket, answered and closed: the daemon's control and read
 * sockets are Node http servers, and this is all a client of theirs needs. Not `node:http`,
 * whose client costs a short CLI command about 15 ms to load and make its first request with
 * (a third of what `get` may spend over starting node; see test/bench/cli-start.ts).
 *
 * `timeoutMs` bounds a silence, as http.request's `timeout` does, not the whole exchange: a
 * `serve` can work for minutes. Rejects with the socket's error (errno in `code`) or "timeout".
 */
export function requestOverSocket(
  socketPath: string,
  method: "GET" | "POST",
  path: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<SocketReply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(socketPath);
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error("timeout")));
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", reject);
    sock.on("end", () => {
      try {
        resolve(parseReply(Buffer.concat(chunks)));
      } catch (err) {
        reject(new BadReplyError((err as Error).message));
      }
    });
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    // Not end(): the answer comes before the server closes, and a half-closed request is one
    // more thing a server may treat differently.
    sock.write(
      Buffer.concat([
        Buffer.from(
          `${method} ${path} HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${payload.length}\r\n\r\n`,
        ),
        payload,
      ]),
    );
  });
}

/** The answer arrived but is not a whole HTTP answer. */
export class BadReplyError extends Error {}

/** A whole HTTP/1.x answer: status line, headers, and a body sized by content-length, chunked, or up to the close. */
export function parseReply(raw: Buffer): SocketReply {
  const split = raw.indexOf("\r\n\r\n");
  if (split < 0) throw new Error("the answer ended inside its headers");
  const head = raw.subarray(0, split).toString("latin1").split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
  if (!status) throw new Error(`not an HTTP answer: ${JSON.stringify((head[0] ?? "").slice(0, 40))}`);
  const headers = new Map(
    head.slice(1).map((l) => {
      const i = l.indexOf(":");
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as const;
    }),
  );
  let rest = raw.subarray(split + 4);
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) rest = unchunk(rest);
  else if (headers.has("content-length")) {
    const n = Number(headers.get("content-length"));
    if (!Number.isSafeInteger(n) || rest.length < n) throw new Error("the answer was cut off");
    rest = rest.subarray(0, n);
  }
  return { status: Number(status[1]), body: rest.toString("utf8") };
}

function unchunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf("\r\n", at);
    if (eol < 0) throw new Error("the answer was cut off");
    const size = Number.parseInt(b.subarray(at, eol).toString("latin1"), 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size in the answer");
    if (size === 0) return Buffer.concat(out);
    if (b.length < eol + 2 + size) throw new Error("the answer was cut off");
    out.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
