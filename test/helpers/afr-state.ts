// Reads the bricks behind the mounts (getfattr on the backend) and lists the
// entries AFR would have to heal or cannot: a name missing on some bricks, a
// GFID that differs between bricks, or non-zero trusted.afr.* pending counters.
// For test diagnostics: it says which file, which bricks and which kind.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

interface Entry {
  gfid?: string;
  pending: string[];
}

async function dumpBrick(brick: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const { stdout } = await run(
    "getfattr",
    ["-R", "-d", "-m", "^trusted\\.(gfid|afr)", "-e", "hex", "--absolute-names", brick],
    { maxBuffer: 64 * 1024 * 1024 },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
  let cur: Entry | undefined;
  for (const line of stdout.split("\n")) {
    const file = /^# file: (.*)$/.exec(line);
    if (file) {
      const rel = (file[1] as string).slice(brick.length) || "/";
      if (rel.startsWith("/.glusterfs")) {
        cur = undefined;
        continue;
      }
      cur = { pending: [] };
      out.set(rel, cur);
      continue;
    }
    if (!cur) continue;
    const kv = /^(trusted\.[^=]+)=0x([0-9a-f]+)$/.exec(line);
    if (!kv) continue;
    const [, name, hex] = kv as unknown as [string, string, string];
    if (name === "trusted.gfid") cur.gfid = hex;
    else if (name.startsWith("trusted.afr.") && /[1-9a-f]/.test(hex)) cur.pending.push(`${name}=${hex}`);
  }
  return out;
}

/** One line per suspicious entry, e.g. `/.hfs/generation.json: gfid n1=ab.. n2=cd..`. Empty when clean. */
export async function afrProblems(bricks: Record<string, string>): Promise<string[]> {
  const names = Object.keys(bricks);
  const dumps = new Map<string, Map<string, Entry>>();
  for (const n of names) dumps.set(n, await dumpBrick(bricks[n] as string));
  const paths = new Set<string>();
  for (const d of dumps.values()) for (const p of d.keys()) paths.add(p);
  const lines: string[] = [];
  for (const p of [...paths].sort()) {
    const per = names.map((n) => [n, dumps.get(n)?.get(p)] as const);
    const missing = per.filter(([, e]) => !e).map(([n]) => n);
    const gfids = new Set(per.filter(([, e]) => e).map(([, e]) => e?.gfid));
    const pending = per.flatMap(([n, e]) => (e?.pending ?? []).map((x) => `${n}:${x}`));
    const parts: string[] = [];
    if (missing.length) parts.push(`missing on ${missing.join(",")}`);
    if (gfids.size > 1)
      parts.push(`gfid ${per.map(([n, e]) => `${n}=${e?.gfid?.slice(0, 8) ?? "-"}`).join(" ")}`);
    if (pending.length) parts.push(`pending ${pending.join(" ")}`);
    if (parts.length) lines.push(`${p}: ${parts.join("; ")}`);
  }
  return lines;
}
