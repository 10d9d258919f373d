/**
 * Checkers over the histories of a fault run. Pure: they take what the clients
 * recorded and what the cluster holds at the end (the journal, the final reads),
 * and count what went wrong. A timeout or an "unavailable" is an unknown outcome,
 * never "not written": such a write may have happened, so nothing may count on it
 * either way.
 */

export type Outcome = "ok" | "fail" | "unknown";

export interface Op {
  proc: string;
  op: string;
  key?: string;
  value?: string | null;
  ifVersion?: number;
  version?: number;
  start: number;
  end: number;
  outcome: Outcome;
}

/** A committed user change, as the journal has it: generation order is commit order. */
export interface Committed {
  generation: number;
  op: string;
  key: string;
  version?: number;
  /** The value it wrote, when the journal holds it (small values do). */
  value?: string;
}

export interface Problems {
  /** Acknowledged writes that never committed. */
  lost: string[];
  /** Versions two committed writes of one key both claim, or acknowledged twice. */
  duplicateVersions: string[];
  /** Reads or writes that saw an older version than one acknowledged before they began. */
  staleReads: string[];
  /** Writes reported as definitely failed (a conflict, a refusal) whose value was committed. */
  failedButCommitted: string[];
}

const emptyProblems = (): Problems => ({
  lost: [],
  duplicateVersions: [],
  staleReads: [],
  failedButCommitted: [],
});

/**
 * The compare-and-set register (and any key): every acknowledged write is in the
 * journal, with its value and version; no version is committed twice; versions of
 * acknowledged writes are the one asked for plus one; and real time is respected:
 * an operation that began after another ended sees a version at least as new.
 */
export function checkRegister(ops: Op[], journal: Committed[]): Problems {
  const p = emptyProblems();
  const byKey = new Map<string, Committed[]>();
  for (const c of journal) {
    if (c.op !== "set" || c.version === undefined) continue;
    const list = byKey.get(c.key) ?? [];
    list.push(c);
    byKey.set(c.key, list);
  }
  for (const [key, list] of byKey) {
    const seen = new Map<number, Committed>();
    for (const c of list) {
      const other = seen.get(c.version as number);
      if (other)
        p.duplicateVersions.push(
          `${key} version ${c.version} committed twice (generations ${other.generation}, ${c.generation})`,
        );
      seen.set(c.version as number, c);
    }
    // Versions only grow in commit order.
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1] as Committed;
      const b = list[i] as Committed;
      if ((b.version as number) <= (a.version as number))
        p.duplicateVersions.push(
          `${key}: generation ${b.generation} wrote version ${b.version} after ${a.version}`,
        );
    }
  }
  const writes = ops.filter((o) => (o.op === "cas" || o.op === "set") && o.key !== undefined);
  const failed = new Map(writes.filter((w) => w.outcome === "fail").map((w) => [`${w.key}=${w.value}`, w]));
  for (const c of journal) {
    const f = c.value === undefined ? undefined : failed.get(`${c.key}=${c.value}`);
    if (f)
      p.failedButCommitted.push(
        `${f.proc}: ${c.key}=${c.value} was reported failed, yet generation ${c.generation} committed it`,
      );
  }
  for (const w of writes) {
    if (w.outcome !== "ok") continue;
    const committed = (byKey.get(w.key as string) ?? []).find((c) => c.version === w.version);
    if (!committed)
      p.lost.push(`${w.proc}: ${w.key}=${w.value} (version ${w.version}) acknowledged, never committed`);
    else if (committed.value !== undefined && committed.value !== w.value)
      p.lost.push(
        `${w.proc}: ${w.key} version ${w.version} acknowledged as ${w.value}, committed as ${committed.value}`,
      );
    if (w.op === "cas" && w.version !== (w.ifVersion as number) + 1)
      p.duplicateVersions.push(
        `${w.proc}: compare-and-set from ${w.ifVersion} acknowledged version ${w.version}`,
      );
  }
  // Real time: an op sees at least every version acknowledged before it began (per key).
  const acked = writes.filter((w) => w.outcome === "ok").sort((a, b) => a.end - b.end);
  // Reads only: a compare-and-set's own version came from the read before it.
  const observed = ops.filter((o) => o.outcome === "ok" && o.key !== undefined && o.op === "get");
  for (const o of observed) {
    const seenVersion = o.version as number;
    let floor = 0;
    let by: Op | undefined;
    for (const w of acked) {
      if (w.end >= o.start) break;
      if (w.key === o.key && (w.version as number) > floor) {
        floor = w.version as number;
        by = w;
      }
    }
    if (seenVersion < floor)
      p.staleReads.push(
        `${o.proc} ${o.op} ${o.key} began after ${by?.proc}'s version ${floor} was acknowledged, yet saw ${seenVersion}`,
      );
  }
  return p;
}

/**
 * Keys with one writer each: what every node reads at the end is the last
 * acknowledged write, or a write after it whose outcome is unknown.
 */
export function checkFinalValues(ops: Op[], finals: Record<string, Record<string, string | null>>): string[] {
  const out: string[] = [];
  const byKey = new Map<string, Op[]>();
  for (const o of ops) {
    if (o.op !== "set" || !o.key) continue;
    const l = byKey.get(o.key) ?? [];
    l.push(o);
    byKey.set(o.key, l);
  }
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.start - b.start);
    let lastOk = -1;
    list.forEach((o, i) => {
      if (o.outcome === "ok") lastOk = i;
    });
    const allowed = new Set<string | null>();
    if (lastOk < 0) allowed.add(null);
    else allowed.add(list[lastOk]?.value ?? null);
    for (let i = Math.max(lastOk + 1, 0); i < list.length; i++)
      if (list[i]?.outcome === "unknown") allowed.add(list[i]?.value ?? null);
    for (const [node, values] of Object.entries(finals)) {
      const got = values[key] ?? null;
      if (!allowed.has(got))
        out.push(
          `${key} reads ${JSON.stringify(got)} on ${node}; allowed: ${[...allowed].map((v) => JSON.stringify(v)).join(" or ")}`,
        );
    }
  }
  return out;
}

export interface CmdEvent {
  id: string;
  ev: "start" | "end" | "fenced";
  token: number;
  t: number;
  outcome?: Outcome;
  start?: number;
}

/**
 * The lock: no two holders' commands ran at the same time; tokens grow in the
 * order the commands began; and every fenced write that was acknowledged carried
 * the newest token at its commit (a stale one is refused). A command whose end was
 * never logged (it was killed when its lock was lost) ends when its `lock` ended.
 */
export function checkLock(
  events: CmdEvent[],
  lockRuns: Op[],
  issued: { generation: number; token: number }[],
  fenced: { generation: number; token: number }[],
): { overlaps: string[]; tokenOrder: string[]; staleFenced: string[] } {
  const byId = new Map<string, { start?: number; end?: number; token: number }>();
  for (const e of events) {
    const r = byId.get(e.id) ?? { token: e.token };
    if (e.ev === "start") r.start = e.t;
    if (e.ev === "end") r.end = e.t;
    byId.set(e.id, r);
  }
  for (const run of lockRuns) {
    const r = byId.get(run.value ?? "");
    if (r && r.end === undefined) r.end = run.end;
  }
  const intervals = [...byId.entries()]
    .filter(([, r]) => r.start !== undefined)
    .map(([id, r]) => ({
      id,
      start: r.start as number,
      end: r.end ?? Number.POSITIVE_INFINITY,
      token: r.token,
    }))
    .sort((a, b) => a.start - b.start);
  const overlaps: string[] = [];
  const tokenOrder: string[] = [];
  for (let i = 1; i < intervals.length; i++) {
    const a = intervals[i - 1] as (typeof intervals)[number];
    const b = intervals[i] as (typeof intervals)[number];
    if (b.start < a.end)
      overlaps.push(`${b.id} (token ${b.token}) began while ${a.id} (token ${a.token}) still ran`);
    if (b.token <= a.token) tokenOrder.push(`${b.id} got token ${b.token} after ${a.id} had ${a.token}`);
  }
  const staleFenced: string[] = [];
  const order = [...issued].sort((a, b) => a.generation - b.generation);
  for (const f of fenced) {
    let newest = 0;
    for (const i of order) if (i.generation < f.generation) newest = Math.max(newest, i.token);
    if (f.token < newest)
      staleFenced.push(
        `a write fenced with token ${f.token} committed at generation ${f.generation}, after token ${newest}`,
      );
  }
  return { overlaps, tokenOrder, staleFenced };
}

export interface WatchEv {
  proc: string;
  op: string;
  generation?: number;
  key?: string;
  version?: number;
}

/**
 * A watcher: every committed change it should have seen, once, in generation order,
 * across its own restarts with --since. Its span is from its first event to its last.
 */
export function checkWatch(
  events: WatchEv[],
  journal: Committed[],
): { gaps: string[]; duplicates: string[] } {
  const gaps: string[] = [];
  const duplicates: string[] = [];
  const byProc = new Map<string, WatchEv[]>();
  for (const e of events) {
    if (e.op !== "event") continue;
    const l = byProc.get(e.proc) ?? [];
    l.push(e);
    byProc.set(e.proc, l);
  }
  for (const [proc, list] of byProc) {
    const seen = new Set<string>();
    let last = -1;
    for (const e of list) {
      const id = `${e.generation} ${e.key} ${e.version ?? ""}`;
      if (seen.has(id)) duplicates.push(`${proc} saw ${id} twice`);
      seen.add(id);
      if ((e.generation as number) < last)
        duplicates.push(`${proc} saw generation ${e.generation} after ${last}`);
      last = Math.max(last, e.generation as number);
    }
    const first = list[0]?.generation ?? 0;
    for (const c of journal) {
      if (c.generation < first || c.generation > last) continue;
      if (!seen.has(`${c.generation} ${c.key} ${c.version ?? ""}`))
        gaps.push(`${proc} missed ${c.op} ${c.key} at generation ${c.generation}`);
    }
  }
  return { gaps, duplicates };
}

/**
 * A register many write with compare-and-set: every node reads the value of the
 * last version committed, and that write was acknowledged or has an unknown outcome.
 */
export function checkFinalRegister(
  key: string,
  ops: Op[],
  journal: Committed[],
  finals: Record<string, Record<string, string | null>>,
): string[] {
  const out: string[] = [];
  const last = journal.filter((c) => c.key === key && (c.op === "set" || c.op === "rm")).at(-1);
  const expected = last === undefined || last.op === "rm" ? null : (last.value ?? null);
  for (const [node, values] of Object.entries(finals)) {
    const got = values[key] ?? null;
    if (got !== expected)
      out.push(
        `${key} reads ${JSON.stringify(got)} on ${node}; the journal's last write is ${JSON.stringify(expected)}`,
      );
  }
  if (expected !== null) {
    const w = ops.find((o) => o.key === key && o.value === expected && (o.op === "cas" || o.op === "set"));
    if (!w) out.push(`${key}'s final value ${JSON.stringify(expected)} was written by no client`);
    else if (w.outcome === "fail")
      out.push(`${key}'s final value ${JSON.stringify(expected)} came from a write reported failed`);
  }
  return out;
}

export interface StatusSample {
  t: number;
  node: string;
  /** What `status` would exit with: 0 healthy, 1 degraded, 5 unavailable. */
  code: number;
  reasons: string[];
}

export interface FaultSpan {
  t: number;
  kind: string;
  node: string;
  phase: "start" | "end" | "skip";
}

/** Faults that leave a server unreachable for all to see, once they have lasted this long. */
const VISIBLE = new Set(["partition", "pause-brick"]);

/**
 * `status` told the truth: while a server was cut off or stalled past the ping
 * timeout, some node said degraded or unavailable (given a few seconds to notice);
 * and at the end every node says healthy.
 */
export function checkStatus(
  events: FaultSpan[],
  samples: StatusSample[],
  finals: StatusSample[],
  pingTimeoutMs: number,
): string[] {
  const out: string[] = [];
  const notice = pingTimeoutMs + 3_000;
  for (const [i, e] of events.entries()) {
    if (e.phase !== "start" || !VISIBLE.has(e.kind)) continue;
    const end = events
      .slice(i + 1)
      .find((x) => x.phase === "end" && x.kind === e.kind && x.node === e.node)?.t;
    if (end === undefined || end - e.t < notice + 2_000) continue;
    const during = samples.filter((s) => s.t >= e.t + notice && s.t <= end);
    if (during.length === 0) continue;
    if (during.every((s) => s.code === 0))
      out.push(
        `${e.kind} of ${e.node} lasted ${Math.round((end - e.t) / 1000)} s, yet every status said healthy`,
      );
  }
  for (const f of finals)
    if (f.code !== 0)
      out.push(
        `${f.node}'s status ends ${f.code === 1 ? "degraded" : "unavailable"} (${f.reasons.join(", ")})`,
      );
  return out;
}

/**
 * Directories read whole through the daemons (which keep them between reads): a read that began
 * after a blind set was acknowledged shows that value, or a later one of the same writer (values are
 * `WRITER-SEQ`, and each key has one writer).
 */
export function checkTreeReads(ops: Op[], prefix = "keys"): string[] {
  const seq = (v: string) => Number(v.slice(v.lastIndexOf("-") + 1));
  const acked = ops
    .filter((o) => o.op === "set" && o.outcome === "ok" && o.key?.startsWith(`${prefix}/`) && o.value)
    .sort((a, b) => a.end - b.end);
  const out: string[] = [];
  const reads = ops.filter((o) => o.op === "tree");
  // A run whose readers never got an answer checked nothing, and must not pass for having checked.
  if (!reads.some((r) => r.outcome === "ok")) out.push(`no directory read succeeded (${reads.length} tried)`);
  for (const r of reads) {
    if (r.outcome !== "ok" || typeof r.value !== "string") continue;
    const tree = JSON.parse(r.value) as Record<string, Record<string, string> | string>;
    const need = new Map<string, Op>();
    for (const s of acked) {
      if (s.end >= r.start) break;
      const prev = need.get(s.key as string);
      if (!prev || seq(s.value as string) > seq(prev.value as string)) need.set(s.key as string, s);
    }
    for (const [key, s] of need) {
      const [, who, k] = key.split("/") as [string, string, string];
      const dir = tree[who];
      const got = typeof dir === "object" ? dir[k] : undefined;
      if (got === undefined || seq(got) < seq(s.value as string))
        out.push(
          `${r.proc} read ${key} as ${got ?? "missing"} in a read begun at ${r.start.toFixed(0)}, after ${s.value} was acknowledged at ${s.end.toFixed(0)}`,
        );
    }
  }
  return out;
}
