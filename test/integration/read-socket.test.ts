import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callSocket } from "../../src/daemon/control-client.js";
import { daemonFirstReadStore, remoteReadStore } from "../../src/daemon/read-client.js";
import { readHandler } from "../../src/daemon/read-socket.js";
import type { ReadStore } from "../../src/daemon/wire.js";
import { openStore } from "../../src/engine/open.js";
import { readNodeConfig } from "../../src/node/config.js";
import { StatePaths } from "../../src/node/state-dir.js";
import { dirNode, tempDir } from "../helpers/cli.js";

/** Sends `raw` as it is and returns the status line of the answer. */
function rawRequest(socketPath: string, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath, () => s.end(raw));
    let got = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      got += d;
    });
    s.on("end", () => resolve(got.split("\r\n")[0] ?? ""));
    s.on("error", reject);
  });
}

describe("the read socket: reads for the read group, and nothing a reader sends can stop the daemon", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  let srv: Server;
  let sock: string;

  beforeAll(async () => {
    t = await tempDir("hfs-read-");
    const n = await dirNode(t.dir);
    expect((await n.run(["set", "app/db/host", "db1"])).code).toBe(0);
    const bin = join(t.dir, "bin");
    await writeFile(bin, Buffer.from([0, 0xff]));
    expect((await n.run(["set", "app/bin", "--file", bin])).code).toBe(0);
    const paths = new StatePaths(n.state);
    const store = openStore(paths, await readNodeConfig(paths));
    sock = join(t.dir, "read.sock");
    srv = createServer(readHandler(store));
    await new Promise<void>((r) => srv.listen(sock, r));
  });

  afterAll(async () => {
    await new Promise((r) => srv?.close(r));
    await t?.cleanup();
  });

  it("gets a value (binary too), lists, and reads a directory's tree", async () => {
    const r = remoteReadStore(sock);
    const v = await r.get("app/db/host");
    expect(v).toMatchObject({ kind: "value", key: "app/db/host", version: 1 });
    expect(v.kind === "value" && v.value.toString()).toBe("db1");
    const b = await r.get("app/bin");
    expect(b.kind === "value" && [...b.value]).toEqual([0, 0xff]);
    expect(await r.ls("app", { recursive: true })).toEqual(["app/bin", "app/db/", "app/db/host"]);
    const tree = await r.readTree("app");
    expect(Object.keys(tree).sort()).toEqual(["bin", "db"]);
  });

  it("a missing key is not found (exit 3), a bad key bad input (exit 2)", async () => {
    const r = remoteReadStore(sock);
    await expect(r.get("app/none")).rejects.toMatchObject({ exitCode: 3 });
    await expect(r.get("../etc/passwd")).rejects.toMatchObject({ exitCode: 2 });
    await expect(r.get(".hfs/head")).rejects.toMatchObject({ exitCode: 2 });
  });

  it("refuses writes, unknown paths and a request line that is not a URL, and goes on answering", async () => {
    await expect(callSocket(sock, "POST", "/v1/read/get?key=app/x", { value: "x" })).rejects.toMatchObject({
      code: "E_METHOD",
      exitCode: 2,
    });
    await expect(callSocket(sock, "GET", "/v1/write")).rejects.toMatchObject({ code: "E_NO_ROUTE" });
    expect(await rawRequest(sock, "GET //[ HTTP/1.1\r\nHost: x\r\n\r\n")).toMatch(/^HTTP\/1\.1 400/);
    const v = await remoteReadStore(sock).get("app/db/host");
    expect(v.kind).toBe("value");
  });
});

describe("root's reads: asked of the daemon, made directly when no daemon answers", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  let direct: ReadStore;
  const servers: Server[] = [];
  let directCalls = 0;
  const countedDirect = async () => {
    directCalls++;
    return direct;
  };

  /** A socket answering every request with `answer`, or closing at once without a word for "hangup". */
  async function fakeDaemon(
    name: string,
    answer: ((res: import("node:http").ServerResponse) => void) | "hangup",
  ) {
    const sock = join(t.dir, name);
    const srv = createServer((req, res) => (answer === "hangup" ? req.socket.destroy() : answer(res)));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(sock, r));
    return sock;
  }

  beforeAll(async () => {
    t = await tempDir("hfs-read-first-");
    const n = await dirNode(t.dir);
    expect((await n.run(["set", "app/db/host", "db1"])).code).toBe(0);
    const paths = new StatePaths(n.state);
    direct = openStore(paths, await readNodeConfig(paths));
  });

  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await t?.cleanup();
  });

  it("takes the daemon's answer, a missing key included, and never reads directly then", async () => {
    const sock = join(t.dir, "daemon.sock");
    const srv = createServer(readHandler(direct));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(sock, r));
    directCalls = 0;
    const r = daemonFirstReadStore(sock, countedDirect);
    const v = await r.get("app/db/host");
    expect(v.kind === "value" && v.value.toString()).toBe("db1");
    await expect(r.get("app/none")).rejects.toMatchObject({ code: "E_NOT_FOUND", exitCode: 3 });
    expect(await r.ls("app", { recursive: true })).toEqual(["app/db/", "app/db/host"]);
    expect(directCalls).toBe(0);
  });

  it("a daemon's refusal stands (it is what the direct read would meet)", async () => {
    const sock = await fakeDaemon("busy.sock", (res) => {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "E_NO_QUORUM", message: "no quorum", exitCode: 5 } }));
    });
    directCalls = 0;
    await expect(daemonFirstReadStore(sock, countedDirect).get("app/db/host")).rejects.toMatchObject({
      code: "E_NO_QUORUM",
      exitCode: 5,
    });
    expect(directCalls).toBe(0);
  });

  it.each([
    ["no socket at all", async () => join(t.dir, "absent.sock")],
    ["a daemon that hangs up without answering", () => fakeDaemon("hangup.sock", "hangup")],
    [
      "a daemon from before the read routes (404, E_NOT_FOUND without an exit code)",
      () =>
        fakeDaemon("old.sock", (res) => {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(
            JSON.stringify({ error: { code: "E_NOT_FOUND", message: "no such endpoint /v1/read/get" } }),
          );
        }),
    ],
    [
      "an answer that is not JSON",
      () =>
        fakeDaemon("garbled.sock", (res) => {
          res.writeHead(200);
          res.end("<html>");
        }),
    ],
  ])("reads directly when the daemon does not answer: %s", async (_what, make) => {
    const sock = await make();
    directCalls = 0;
    const r = daemonFirstReadStore(sock, countedDirect);
    const v = await r.get("app/db/host");
    expect(v.kind === "value" && v.value.toString()).toBe("db1");
    expect(await r.ls("app")).toEqual(["app/db/"]);
    // Opened once, then kept: a second read does not ask the daemon again.
    expect(directCalls).toBe(1);
  });
});
