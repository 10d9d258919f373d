import { createServer, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { daemonWriter } from "../../src/daemon/write-client.js";
import { tempDir } from "../helpers/cli.js";

/** A write handed to the daemon: not sent means "write it yourself"; sent and unanswered means unknown, never "not written". */
describe("daemonWriter: what a lost or refused answer means", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  const servers: Server[] = [];
  beforeAll(async () => {
    t = await tempDir("hfs-write-client-");
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await t?.cleanup();
  });

  async function daemon(name: string, answer: (res: ServerResponse) => void): Promise<string> {
    const sock = join(t.dir, name);
    const srv = createServer((req, res) => {
      req.resume();
      req.on("end", () => answer(res));
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(sock, r));
    return sock;
  }

  it("no daemon listening: nothing was sent, so the caller writes directly", async () => {
    expect(await daemonWriter(join(t.dir, "none.sock")).set("a/b", Buffer.from("x"), {})).toBeUndefined();
  });

  it("a daemon that takes the request and hangs up: the outcome is unknown (exit 5)", async () => {
    const sock = await daemon("hangup.sock", (res) => res.socket?.destroy());
    await expect(daemonWriter(sock).set("a/b", Buffer.from("x"), {})).rejects.toMatchObject({
      code: "E_OUTCOME_UNKNOWN",
      exitCode: 5,
    });
  });

  it("an answer cut off half way: unknown too", async () => {
    const sock = await daemon("cut.sock", (res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write('{"key":"a/b"');
      res.socket?.destroy();
    });
    await expect(daemonWriter(sock).set("a/b", Buffer.from("x"), {})).rejects.toMatchObject({
      code: "E_OUTCOME_UNKNOWN",
    });
  });

  it("a refusal comes back as the daemon's error; a daemon without the route means write directly", async () => {
    const refusing = await daemon("refuse.sock", (res) => {
      res.writeHead(409, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: {
            code: "E_VERSION_CONFLICT",
            message: "version conflict",
            exitCode: 4,
            details: { key: "a/b", expected: 1, actual: 2 },
          },
        }),
      );
    });
    await expect(daemonWriter(refusing).set("a/b", Buffer.from("x"), { ifVersion: 1 })).rejects.toMatchObject(
      {
        code: "E_VERSION_CONFLICT",
        actual: 2,
      },
    );
    const old = await daemon("old.sock", (res) => {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "E_NOT_FOUND", message: "no such endpoint /v1/write" } }));
    });
    expect(await daemonWriter(old).rm("a/b", {})).toBeUndefined();
    const ok = await daemon("ok.sock", (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ key: "a/b", version: 3, generation: 9 }));
    });
    expect(await daemonWriter(ok).set("a/b", Buffer.from("x"), {})).toEqual({
      key: "a/b",
      version: 3,
      generation: 9,
    });
  });
});
