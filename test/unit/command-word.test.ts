import { describe, expect, it } from "vitest";
import { commandWord } from "../../cli/commands/index.js";

describe("which command runs (only its module is loaded)", () => {
  it.each([
    [["get", "k"], "get"],
    [["--state-dir", "/s", "get", "k"], "get"],
    [["--state-dir=/s", "--json", "set", "k", "v"], "set"],
    [["--json", "--state-dir", "get", "status"], "status"],
    [["--help"], undefined],
    [["-V"], undefined],
    [[], undefined],
    [["help", "get"], "help"],
  ])("%j -> %s", (args, want) => {
    expect(commandWord(args)).toBe(want);
  });
});
