import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

/**
 * Golden printouts, in the style of etcd's raft testdata: a file of cases, each a title line
 * ("# ..."), its input as YAML, "----", and the output as text; cases are separated by "====".
 * `golden` prints every case's output afresh; HFS_WRITE_GOLDEN=1 writes the file instead (then read
 * the diff: it is the change in behaviour).
 */
export interface GoldenCase {
  title: string;
  input: Record<string, unknown>;
  /** The input as written, kept as it is when the file is printed again. */
  text: string;
}

export function goldenCases(file: string): GoldenCase[] {
  return readFileSync(file, "utf8")
    .split(/^====\n/m)
    .filter((c) => c.trim() !== "")
    .map((c) => {
      const lines = (c.split(/^----\n/m)[0] ?? "").split("\n");
      const text = lines.slice(1).join("\n").trimEnd();
      return {
        title: (lines[0] ?? "").replace(/^# /, ""),
        input: (parse(text) ?? {}) as Record<string, unknown>,
        text,
      };
    });
}

/** The file as it should be: every case with the output `print` gives it now. Writes it under HFS_WRITE_GOLDEN=1. */
export function golden(file: string, print: (c: GoldenCase) => string): { now: string; was: string } {
  const was = readFileSync(file, "utf8");
  const now = goldenCases(file)
    .map((c) => `# ${c.title}\n${c.text}\n----\n${print(c)}\n`)
    .join("====\n");
  if (process.env.HFS_WRITE_GOLDEN === "1") writeFileSync(file, now);
  return { now, was };
}
