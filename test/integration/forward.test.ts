import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { commitEndpoint } from "../../src/daemon/commit-endpoint.js";
import { Forwarder } from "../../src/daemon/forward.js";
import { httpPeerPost, type PeerPost, type PeerTarget } from "../../src/daemon/peer-post.js";
import { newPeerKey } from "../../src/daemon/peer-seal.js";
import type { WireWrite } from "../../src/daemon/write-client.js";
import { VersionConflictError } from "../../src/errors.js";

/**
 * A forwarded write over a real HTTP connection on loopback, between a Forwarder and a commit
 * endpoint: what the sender may conclude from each way the exchange can end. Not sent, or answered
 * sealed "not taken": it commits the write itself. Sent and then lost, cut off, refused without the
 * seal, or answered for another request: unknown (exit 5), and never written a second time here.
 */
describe("forwarded writes: what the sender may conclude", () => {
  const key = newPeerKey();
  let server: Server;
  let target: PeerTarget;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const committed: WireWrite[] = [];
  let refuses: string | null = null;
  let commit: (w: WireWrite) => Promise<{ key: string; version: number; generation: number }>;

  beforeAll(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    target = { name: "n1", address: "127.0.0.1", port: (server.address() as AddressInfo).port };
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  afterEach(() => {
    committed.length = 0;
    refuses = null;
    handler = endpoint();
  });

  function endpoint(k = key) {
    commit = async (w) => {
      committed.push(w);
      return { key: w.key, version: committed.length, generation: 100 + committed.length };
    };
    return commitEndpoint({
      self: "n1",
      key: () => k,
      refuses: () => refuses,
      commit: (w) => commit(w),
      clock: systemClock,
      log: () => {},
      forged: () => {},
    });
  }
  handler = endpoint();

  function forwarder(post: PeerPost = httpPeerPost(), to: PeerTarget | undefined = target) {
    const seen = { keyRefused: 0, logs: [] as string[] };
    const f = new Forwarder({
      self: "n2",
      key: () => key,
      committer: () => to,
      post,
      clock: systemClock,
      log: (_l, msg) => seen.logs.push(msg),
      keyRefused: () => {
        seen.keyRefused++;
      },
    });
    return { f, seen };
  }

  const set = (k = "a/b"): WireWrite => ({ op: "set", key: k, value: Buffer.from("v").toString("base64") });

  it("committed by the committer: its result, written there once", async () => {
    const { f } = forwarder();
    expect(await f.write(set())).toEqual({ key: "a/b", version: 1, generation: 101 });
    expect(committed).toEqual([set()]);
  });

  it("refused by the committer's store: the same refusal here (its class and details)", async () => {
    commit = async (w) => {
      throw new VersionConflictError(w.key, 3, 4);
    };
    const { f } = forwarder();
    const err = await f.write({ ...set(), ifVersion: 3 }).catch((e) => e);
    expect(err).toBeInstanceOf(VersionConflictError);
    expect(err).toMatchObject({ expected: 3, actual: 4, exitCode: 4 });
  });

  it("nobody listening: nothing was sent, so the sender commits it, and passes the committer over for a while", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    let posts = 0;
    const post: PeerPost = (...a) => {
      posts++;
      return httpPeerPost()(...a);
    };
    const { f, seen } = forwarder(post, { name: "n1", address: "127.0.0.1", port });
    expect(await f.write(set())).toBeUndefined();
    expect(await f.write(set())).toBeUndefined();
    expect(posts).toBe(1);
    expect(seen.logs.join("\n")).toMatch(/not reachable/);
  });

  it("a committer that does not take writes now says so, sealed: the sender commits it", async () => {
    refuses = "not ready";
    const { f } = forwarder();
    expect(await f.write(set())).toBeUndefined();
    expect(committed).toEqual([]);
  });

  it("the committer takes the request and hangs up: unknown, never written again here", async () => {
    handler = (req, res) => {
      req.resume();
      req.on("end", () => res.socket?.destroy());
    };
    const { f } = forwarder();
    await expect(f.write(set())).rejects.toMatchObject({ code: "E_OUTCOME_UNKNOWN", exitCode: 5 });
  });

  it("an answer without the seal (a refusal, or someone else's answer): unknown", async () => {
    handler = (_req, res) => {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "E_NOT_COMMITTER", message: "no" } }));
    };
    await expect(forwarder().f.write(set())).rejects.toMatchObject({ code: "E_OUTCOME_UNKNOWN" });
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(Buffer.from('{"ok":{"key":"a/b","version":1,"generation":1}}'));
    };
    await expect(forwarder().f.write(set())).rejects.toMatchObject({ code: "E_OUTCOME_UNKNOWN" });
  });

  it("a committer with another key refuses the seal (403): unknown, and the sender reads its key again", async () => {
    handler = endpoint(newPeerKey());
    const { f, seen } = forwarder();
    await expect(f.write(set())).rejects.toMatchObject({ code: "E_OUTCOME_UNKNOWN" });
    expect(seen.keyRefused).toBe(1);
    expect(committed).toEqual([]);
  });

  it("a copy of a request, sent again, is refused without the seal: committed once", async () => {
    let last: Parameters<PeerPost> | undefined;
    const recording: PeerPost = (...a) => {
      last = a;
      return httpPeerPost()(...a);
    };
    const { f } = forwarder(recording);
    expect(await f.write(set())).toMatchObject({ version: 1 });
    const again = await httpPeerPost()(...(last as Parameters<PeerPost>));
    expect(again.status).toBe(409);
    expect(JSON.parse(again.body.toString()).error.code).toBe("E_PEER_SEAL");
    expect(committed).toHaveLength(1);
  });

  it("an answer to another request does not pass for this one's", async () => {
    // A man in the middle swaps answers: each request gets the answer sealed for the other.
    const answers: Buffer[] = [];
    const swapping: PeerPost = async (...a) => {
      const r = await httpPeerPost()(...a);
      answers.push(r.body);
      return answers.length === 2 ? { ...r, body: answers[0] as Buffer } : r;
    };
    const { f } = forwarder(swapping);
    await f.write(set("a/one"));
    await expect(f.write(set("a/two"))).rejects.toMatchObject({ code: "E_OUTCOME_UNKNOWN" });
  });
});
