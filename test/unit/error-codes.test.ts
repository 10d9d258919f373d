import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("error codes", () => {
  it("each code is raised by one error class only, so it always means one exit code", () => {
    const classes = new Map<string, Set<string>>();
    for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "cli"))]) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/new (\w+Error)\(\s*"(E_[A-Z0-9_]+)"/g)) {
        const [, cls, code] = m as unknown as [string, string, string];
        const set = classes.get(code) ?? new Set<string>();
        set.add(cls);
        classes.set(code, set);
      }
    }
    expect(classes.size).toBeGreaterThan(50);
    const mixed = [...classes]
      .filter(([, set]) => set.size > 1)
      .map(([code, set]) => `${code}: ${[...set].join(", ")}`);
    expect(mixed).toEqual([]);
  });
});
