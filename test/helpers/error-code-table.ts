import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../../src/error-codes.js";

// From test/helpers under vitest, from dist/test/helpers when run compiled.
export const README = [
  join(import.meta.dirname, "..", "..", "README.md"),
  join(import.meta.dirname, "..", "..", "..", "README.md"),
].find((p) => existsSync(p)) as string;
export const BEGIN =
  "<!-- error codes: made from src/error-codes.ts: HFS_WRITE_CODE_TABLE=1 npx vitest run test/unit/error-codes.test.ts -->";
export const END = "<!-- end of error codes -->";

/** The README's table of error codes, as src/error-codes.ts holds them, in exit-code order, aligned as biome formats it. */
export function codeTable(): string {
  const rows = Object.entries(ERROR_CODES)
    .map(([code, { exit, fix }]) => ({ code, exit, fix }))
    .sort((a, b) => a.exit - b.exit || (a.code < b.code ? -1 : 1))
    .map((r) => [String(r.exit), `\`${r.code}\``, r.fix.replace(/\|/g, "\\|")]);
  const head = ["exit", "code", "what to do"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [BEGIN, "", line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line), "", END].join(
    "\n",
  );
}

/** The table as the README holds it now; undefined when the markers are missing. */
export function readmeTable(text = readFileSync(README, "utf8")): string | undefined {
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  return a < 0 || b < a ? undefined : text.slice(a, b + END.length);
}

/** Writes the table into the README between its markers. */
export function writeReadmeTable(): void {
  const text = readFileSync(README, "utf8");
  const old = readmeTable(text);
  if (old === undefined) throw new Error(`${README} has no ${BEGIN} ... ${END} markers`);
  writeFileSync(README, text.replace(old, codeTable()));
}
