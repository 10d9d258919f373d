import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * The layers, lowest first: a module imports only from its own layer or a lower one. `src/index.ts`
 * (the library's entry) and cli/ sit on top.
 */
const LAYERS: string[][] = [
  ["src", "src/native"],
  ["src/store"],
  ["src/gluster", "src/plan"],
  ["src/node", "src/members"],
  ["src/cluster", "src/coord", "src/engine", "src/heal", "src/init", "src/backup", "src/render"],
  ["src/daemon"],
  ["cli", "cli/commands", "src/index.ts"],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const ALL = [...files(join(ROOT, "src")), ...files(join(ROOT, "cli"))];

/**
 * Known exceptions, each with its reason. The engine opens a store whose writes go to this node's
 * daemon: the client half of the daemon's protocol lives beside its server half.
 */
const ALLOWED = new Set(["src/engine/open.ts -> src/daemon/write-client.ts"]);

function layerOf(file: string): number {
  const rel = relative(ROOT, file);
  const exact = LAYERS.findIndex((l) => l.includes(rel));
  const i = exact >= 0 ? exact : LAYERS.findIndex((l) => l.includes(dirname(rel)));
  if (i < 0) throw new Error(`${rel} is in no layer: add its folder to LAYERS`);
  return i;
}

type Kind = "static" | "type" | "dynamic";

/** Relative imports of a file, each with its kind: a static value import, a type-only one, or import(). */
function imports(file: string, text = readFileSync(file, "utf8")): { target: string; kind: Kind }[] {
  const out: { target: string; kind: Kind }[] = [];
  for (const m of text.matchAll(/^(import|export)(\s+type)?\s[^;]*?\sfrom\s+"(\.[^"]+)";/gms)) {
    out.push({ target: m[3] as string, kind: m[2] ? "type" : "static" });
  }
  for (const m of text.matchAll(/^import\s+"(\.[^"]+)";/gm))
    out.push({ target: m[1] as string, kind: "static" });
  for (const m of text.matchAll(/import\(\s*"(\.[^"]+)"\s*\)/g))
    out.push({ target: m[1] as string, kind: "dynamic" });
  return out.map((i) => ({ ...i, target: resolve(dirname(file), i.target.replace(/\.js$/, ".ts")) }));
}

/** Folders with a door (an index.ts): from outside, only the door may be imported. */
const DOORS = ALL.filter((f) => f.endsWith("/index.ts") && dirname(f) !== join(ROOT, "src")).map(dirname);

/**
 * Imports that go past a door: `from` sits outside a folder that has an index.ts and imports one
 * of that folder's other modules (a type import or an import() as much as a static one).
 */
function pastTheDoor(edges: { from: string; to: string }[], doors: string[]): string[] {
  return edges
    .filter(({ from, to }) =>
      doors.some((d) => to.startsWith(`${d}/`) && !from.startsWith(`${d}/`) && to !== join(d, "index.ts")),
    )
    .map(({ from, to }) => `${relative(ROOT, from)} -> ${relative(ROOT, to)}`);
}

describe("the code's structure", () => {
  it("a folder with an index.ts is entered only through it (the check itself catches a way past)", () => {
    expect(DOORS.map((d) => relative(ROOT, d)).sort()).toEqual(["cli/commands", "src/coord", "src/store"]);
    const store = join(ROOT, "src/store");
    // Planted sources, read by the same scanner: each way past the door is caught, the door is not.
    const planted: [string, string][] = [
      ["src/daemon/a.ts", 'import { Store } from "../store/store.js";'],
      ["src/daemon/b.ts", 'import type {\n  Layout,\n} from "../store/layout.js";'],
      ["src/daemon/c.ts", 'export { readJson } from "../store/reads.js";'],
      ["src/daemon/d.ts", 'const m = await import( "../store/head.js" );'],
      ["cli/e.ts", 'import { Store } from "../src/store/index.js";'],
      ["src/store/f.ts", 'import { Layout } from "./layout.js";'],
    ];
    const plantedEdges = planted.flatMap(([f, text]) =>
      imports(join(ROOT, f), text).map((i) => ({ from: join(ROOT, f), to: i.target })),
    );
    expect(pastTheDoor(plantedEdges, [store])).toEqual([
      "src/daemon/a.ts -> src/store/store.ts",
      "src/daemon/b.ts -> src/store/layout.ts",
      "src/daemon/c.ts -> src/store/reads.ts",
      "src/daemon/d.ts -> src/store/head.ts",
    ]);

    const edges = ALL.flatMap((f) => imports(f).map((i) => ({ from: f, to: i.target })));
    expect(pastTheDoor(edges, DOORS)).toEqual([]);
  });

  it("no module imports from a higher layer", () => {
    const wrong: string[] = [];
    for (const f of ALL) {
      for (const i of imports(f)) {
        if (!ALL.includes(i.target)) continue;
        const edge = `${relative(ROOT, f)} -> ${relative(ROOT, i.target)}`;
        if (layerOf(i.target) > layerOf(f) && !ALLOWED.has(edge)) wrong.push(edge);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("no import cycle, counting type imports too (an import() runs once both modules are loaded)", () => {
    const graph = new Map(
      ALL.map((f) => [
        f,
        imports(f)
          .filter((i) => i.kind !== "dynamic" && ALL.includes(i.target))
          .map((i) => i.target),
      ]),
    );
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (f: string) => {
      state.set(f, "open");
      path.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === "open")
          cycles.push([...path.slice(path.indexOf(t)), t].map((p) => relative(ROOT, p)).join(" -> "));
        else if (!state.has(t)) visit(t);
      }
      path.pop();
      state.set(f, "done");
    };
    for (const f of ALL) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it("only the CLI's entry ends the process (process.exit); the rest call cli/exit.ts", () => {
    const callers = ALL.filter((f) => /process\.exit\(/.test(readFileSync(f, "utf8"))).map((f) =>
      relative(ROOT, f),
    );
    expect(callers).toEqual(["cli/hfs-config.ts"]);
  });

  it("every .hfs name is Layout's (src/store/layout.ts): no other module spells one out", () => {
    const spelled = ALL.filter(
      (f) => !f.endsWith("src/store/layout.ts") && !f.endsWith("src/keys.ts"),
    ).flatMap((f) =>
      readFileSync(f, "utf8")
        // Comments may name the files they describe.
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "")
        .split("\n")
        .filter((l) => /["`']\.hfs\b/.test(l))
        .map((l) => `${relative(ROOT, f)}: ${l.trim()}`),
    );
    expect(spelled).toEqual([]);
  });
});
