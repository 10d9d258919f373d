import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLI, hfs, tempDir } from "../helpers/cli.js";
import { sleep } from "../helpers/cluster.js";

let t: Awaited<ReturnType<typeof tempDir>>;
let daemon: Server | undefined;
beforeEach(async () => {
  t = await tempDir();
});
afterEach(async () => {
  daemon?.closeAllConnections();
  await new Promise((r) => daemon?.close(r) ?? r(undefined));
  await t.cleanup();
});

describe("Ctrl-C on serve", () => {
  it("says the daemon goes on with the serve, how to follow it and how to undo it; exit 130", async () => {
    const state = join(t.dir, "state");
    const setup = await hfs(state, ["setup", "--name", "n7", "--address", "127.0.0.1"]);
    expect(setup.code, setup.stderr).toBe(0);
    // A stand-in for the daemon, on its control socket: it takes the serve and is slow to answer, as a
    // daemon healing a new brick is.
    await mkdir(join(state, "run"), { recursive: true });
    let asked = false;
    daemon = createServer((req) => {
      asked = req.url === "/v1/serve";
    });
    await new Promise<void>((r) => daemon?.listen(join(state, "run", "control.sock"), () => r()));
    const child = spawn(process.execPath, [CLI, "serve"], {
      env: { ...process.env, HFS_STATE_DIR: state },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    for (let i = 0; i < 100 && !asked; i++) await sleep(50);
    expect(asked).toBe(true);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(err).toMatch(/n7's daemon goes on with the serve/);
    expect(err).toMatch(/'hfs-config status' shows when n7 serves/);
    expect(err).toMatch(/'hfs-config retire n7'/);
  });
});
