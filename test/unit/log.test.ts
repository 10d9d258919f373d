import { closeSync, fstatSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jsonLogger, stderrIsJournal } from "../../src/daemon/log.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hfs-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (d) => chunks.push(String(d)));
  return { stream, text: () => chunks.join("") };
}

describe("the daemon's logger", () => {
  it("keeps its file under the bound: moved to .1 when full, one older file kept", async () => {
    const file = join(dir, "daemon.log");
    const out = capture();
    const log = jsonLogger("n1", { stream: out.stream, file, priorities: false, maxFileBytes: 2000 });
    for (let i = 0; i < 100; i++) log.log("info", "tick", { i });
    expect((await stat(file)).size).toBeLessThanOrEqual(2000);
    expect((await stat(`${file}.1`)).size).toBeLessThanOrEqual(2000);
    const last = (await readFile(file, "utf8")).trim().split("\n").at(-1) as string;
    expect(JSON.parse(last)).toMatchObject({ node: "n1", msg: "tick", i: 99 });
    expect(out.text().trim().split("\n")).toHaveLength(100);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("goes on from the size a file already has after a restart", async () => {
    const file = join(dir, "daemon.log");
    const opts = { stream: capture().stream, file, priorities: false, maxFileBytes: 1500 };
    const a = jsonLogger("n1", opts);
    for (let i = 0; i < 10; i++) a.log("info", "before restart", { i });
    const b = jsonLogger("n1", opts);
    for (let i = 0; i < 10; i++) b.log("info", "after restart", { i });
    expect((await stat(file)).size).toBeLessThanOrEqual(1500);
  });

  it("under the journal: no file, and each line starts with its syslog priority", () => {
    const out = capture();
    const log = jsonLogger("n1", { stream: out.stream, file: undefined, priorities: true, maxFileBytes: 1 });
    log.log("warn", "w");
    log.log("error", "e");
    log.log("info", "i");
    expect(
      out
        .text()
        .split("\n")
        .filter(Boolean)
        .map((l) => l.slice(0, 3)),
    ).toEqual(["<4>", "<3>", "<6>"]);
  });

  it("knows stderr is the journal only when JOURNAL_STREAM names that very stream", async () => {
    const fd = openSync(join(dir, "stream"), "w");
    try {
      const st = fstatSync(fd);
      expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(true);
      expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd)).toBe(false);
      expect(stderrIsJournal({}, fd)).toBe(false);
      expect(stderrIsJournal({ JOURNAL_STREAM: "junk" }, fd)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});
