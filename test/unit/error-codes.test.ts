import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/error-codes.js";
import { codeTable, readmeTable, writeReadmeTable } from "../helpers/error-code-table.js";

const ROOT = join(import.meta.dirname, "..", "..");
const TABLE = join(ROOT, "src", "error-codes.ts");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const FILES = [...sources(join(ROOT, "src")), ...sources(join(ROOT, "cli"))].filter((f) => f !== TABLE);

describe("error codes: one table, each code with one exit code", () => {
  it("every code the code names is in the table", () => {
    const unknown = FILES.flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/"(E_[A-Z0-9_]+)"/g)]
        .map((m) => m[1] as string)
        .filter((c) => !Object.hasOwn(ERROR_CODES, c))
        .map((c) => `${relative(ROOT, f)}: ${c}`),
    );
    expect(unknown).toEqual([]);
  });

  it("every code in the table is raised somewhere (no dead entries)", () => {
    const text = FILES.map((f) => readFileSync(f, "utf8")).join("\n");
    const dead = Object.keys(ERROR_CODES).filter((c) => !text.includes(`"${c}"`));
    expect(dead).toEqual([]);
  });

  it("each code is raised by one error class only", () => {
    const classes = new Map<string, Set<string>>();
    for (const file of FILES) {
      for (const m of readFileSync(file, "utf8").matchAll(/new (\w+Error)\(\s*"(E_[A-Z0-9_]+)"/g)) {
        const [, cls, code] = m as unknown as [string, string, string];
        classes.set(code, (classes.get(code) ?? new Set<string>()).add(cls));
      }
    }
    expect(classes.size).toBeGreaterThan(50);
    const mixed = [...classes]
      .filter(([, set]) => set.size > 1)
      .map(([code, set]) => `${code}: ${[...set].join(", ")}`);
    expect(mixed).toEqual([]);
  });

  it("an error sent on the wire by hand carries its code's exit code", () => {
    const wrong = FILES.flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/code: "(E_[A-Z0-9_]+)",[^}]*exitCode: (\d)/g)]
        .filter((m) => ERROR_CODES[m[1] as keyof typeof ERROR_CODES]?.exit !== Number(m[2]))
        .map((m) => `${relative(ROOT, f)}: ${m[1]} sent with exit ${m[2]}`),
    );
    expect(wrong).toEqual([]);
  });

  it("every fix is one short sentence that says what to do", () => {
    const bad = Object.entries(ERROR_CODES)
      .filter(([, { fix }]) => fix.length < 10 || fix.length > 110 || !/[.)]$/.test(fix))
      .map(([c]) => c);
    expect(bad).toEqual([]);
  });

  it("the README lists the table as it is (HFS_WRITE_CODE_TABLE=1 rewrites it)", () => {
    if (process.env.HFS_WRITE_CODE_TABLE === "1") writeReadmeTable();
    expect(readmeTable()).toBe(codeTable());
  });
});
