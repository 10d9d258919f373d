import { describe, expect, it } from "vitest";
import { crawlProgressLine, Progress, repairProgressLine, serveProgressLine } from "../../cli/progress.js";
import type { StatusReport } from "../../src/daemon/wire.js";

describe("repair's progress line on a terminal", () => {
  it.each([
    [
      { crawl: { entries: 1234, since: 10_000 }, pendingHeals: 56 },
      22_400,
      "crawling: 1234 entries looked up in 12 s; pending heals: 56",
    ],
    [{ crawl: null, pendingHeals: 3 }, 0, "pending heals: 3"],
    [
      { crawl: { entries: 0, since: 5_000 }, pendingHeals: 0 },
      4_000,
      "crawling: 0 entries looked up in 0 s; pending heals: 0",
    ],
  ])("%j at %d", (s, now, want) => {
    expect(crawlProgressLine(s, now)).toBe(want);
  });
});

describe("serve's and repair's progress lines", () => {
  const base = {
    server: true,
    ready: true,
    creatingVolume: false,
    crawl: null,
    pendingHeals: 0,
    repair: null,
  } as unknown as StatusReport;
  it.each([
    [undefined, "waiting for the daemon to answer"],
    [{ ...base, creatingVolume: true }, "creating the config volume"],
    [{ ...base, server: false }, "joining: starting the brick and adding its marker"],
    [{ ...base, pendingHeals: 42 }, "healing: 42 entries left"],
    [{ ...base, ready: false }, "waiting for the mount to settle"],
    [{ ...base }, "serving; checking the brick holds every key"],
  ])("serve: %j", (s, want) => {
    expect(serveProgressLine(s as StatusReport | undefined)).toBe(want);
  });

  it("repair: the step and its time, the crawl when there is one; nothing when no repair runs", () => {
    expect(repairProgressLine({ ...base, repair: { step: "healing", since: 1_000 } }, 4_000)).toBe(
      "healing (3 s)",
    );
    expect(
      repairProgressLine(
        { ...base, repair: { step: "healing", since: 0 }, crawl: { entries: 9, since: 0 }, pendingHeals: 2 },
        2_000,
      ),
    ).toBe("healing (2 s); crawling: 9 entries looked up in 2 s; pending heals: 2");
    expect(repairProgressLine(base)).toBeUndefined();
  });
});

describe("Progress on a terminal and off it", () => {
  const sink = (isTTY: boolean) => {
    const out: string[] = [];
    return { out, stream: { isTTY, write: (s: string) => out.push(s) } };
  };
  it("a terminal: one line redrawn in place, at most every 100 ms, cleared at the end", () => {
    let t = 0;
    const { out, stream } = sink(true);
    const p = new Progress("init", stream, () => t);
    p.start("reading x.yaml");
    p.update("planned 1 of 3 keys");
    t = 150;
    p.update("planned 2 of 3 keys");
    p.update("writing 3 keys in one commit", true);
    p.end();
    expect(out).toEqual([
      "\r\x1b[Kinit: reading x.yaml",
      "\r\x1b[Kinit: planned 2 of 3 keys",
      "\r\x1b[Kinit: writing 3 keys in one commit",
      "\r\x1b[K",
    ]);
  });
  it("a pipe or a log: the start line once, nothing else", () => {
    const { out, stream } = sink(false);
    const p = new Progress("serve", stream);
    p.start("joining");
    p.update("healing: 3 entries left", true);
    p.end();
    expect(out).toEqual(["serve: joining\n"]);
  });
});
