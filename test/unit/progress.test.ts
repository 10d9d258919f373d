import { describe, expect, it } from "vitest";
import { crawlProgressLine } from "../../cli/progress.js";

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
