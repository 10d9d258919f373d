import { readFile } from "node:fs/promises";
import type { Clock } from "../clock.js";
import { HfsError, RenderError } from "../errors.js";
import { writeFileAtomic } from "../local-file.js";
import type { Proc } from "../proc.js";
import type { Store } from "../store/index.js";
import { installRendered, runReload } from "./install.js";
import { listResources, readSpec, readView } from "./load.js";
import { type Debounce, type ResourceReport, renderDue, touches } from "./plan.js";
import { dependencies, RENDER_DIR, type RenderSpec, rendersOn } from "./spec.js";
import { renderTemplate } from "./template.js";

export interface RenderLog {
  log(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}

export interface RenderRunnerDeps {
  store: Store;
  node: string;
  /** Node-local: where the runner keeps what it applied, so a restart resumes there. */
  stateFile: string;
  proc: Proc;
  clock: Clock;
  log: RenderLog;
}

interface Tracked extends ResourceReport {
  spec: RenderSpec;
  debounce: Debounce;
}

interface SavedState {
  seen: number | null;
  resources: ResourceReport[];
}

/** A failure that is not the resource's fault (no quorum, a stale mount): tried again after this. */
const RETRY_MS = 2_000;

/**
 * Renders this node's resources and keeps them current: it follows the journal from
 * the last generation it looked at (kept in `stateFile`, so a restart misses no
 * change), marks the resources a change touches, and renders each once its debounce
 * window has passed, from one generation's view read under the write lock. The
 * reload runs after an install only, so at most once per window.
 */
export class RenderRunner {
  private seen: number | null = null;
  private readonly tracked = new Map<string, Tracked>();
  private loaded = false;
  private target: number | null = null;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: RenderRunnerDeps) {}

  /** The newest generation this node has read: work through the changes up to it. */
  poke(generation: number | null): void {
    if (generation !== null && (this.target === null || generation > this.target)) this.target = generation;
    this.kick();
  }

  /** For /v1/status: what each resource on this node has applied. */
  report(): { seen: number | null; resources: ResourceReport[] } {
    return { seen: this.seen, resources: [...this.tracked.values()].map(publicPart) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    this.running = this.step()
      .catch((err) => this.deps.log.log("error", "render step failed", { error: (err as Error).message }))
      .finally(() => {
        this.running = undefined;
        if (this.target !== null && (this.seen === null || this.target > this.seen)) this.kick();
      });
  }

  private async step(): Promise<void> {
    if (!this.loaded) await this.loadState();
    const target = this.target;
    if (target !== null && (this.seen === null || target > this.seen)) await this.follow(target);
    const now = this.deps.clock.monotonic();
    for (const r of [...this.tracked.values()]) {
      if (renderDue(r.debounce, now, r.spec.waitMinMs, r.spec.waitMaxMs) === "now") await this.render(r);
    }
    // After the renders: changes that came meanwhile set when to look again.
    let next: number | undefined;
    for (const r of this.tracked.values()) {
      const due = renderDue(r.debounce, this.deps.clock.monotonic(), r.spec.waitMinMs, r.spec.waitMaxMs);
      if (due === "now") next = 0;
      else if (due !== "idle") next = Math.min(next ?? due, due);
    }
    clearTimeout(this.timer);
    if (next !== undefined && !this.stopped) this.timer = setTimeout(() => this.kick(), next + 5);
  }

  /** Looks at the changes after `seen` up to `g`: which resources exist, and which a change touched. */
  private async follow(g: number): Promise<void> {
    // Most clusters declare no resource: one listing of render/ then, not a read of every journal entry.
    if (this.listed && this.tracked.size === 0 && (await listResources(this.deps.store)).length === 0) {
      this.seen = g;
      return;
    }
    const keys = this.seen === null ? undefined : await this.changedKeys(this.seen, g);
    const all = keys === undefined;
    const before = [...this.tracked.keys()].join();
    if (!this.listed || all || keys?.some((k) => touches(k, [RENDER_DIR]))) await this.relist(g);
    let marked = before !== [...this.tracked.keys()].join();
    const now = this.deps.clock.monotonic();
    for (const r of this.tracked.values()) {
      if (all || keys?.some((k) => touches(k, dependencies(r.spec)))) {
        r.debounce.firstChange ??= now;
        r.debounce.lastChange = now;
        r.pending = true;
        marked = true;
      } else if (!r.pending && r.generation < g && !r.error) {
        r.generation = g;
      }
    }
    this.seen = g;
    // Saved when a resource has a change to render: an unsaved `seen` only costs a restart
    // looking at changes again that touch nothing.
    if (marked) await this.saveState();
  }

  /**
   * The keys changed after `from` up to `g`; undefined when the journal cannot say (pruned
   * past us, or an entry not readable yet): then everything counts as changed, which costs
   * a render that finds the file unchanged, never a missed change.
   */
  private async changedKeys(from: number, g: number): Promise<string[] | undefined> {
    const keys: string[] = [];
    for (let cursor = from; cursor < g; ) {
      let got: Awaited<ReturnType<Store["changes"]>>;
      try {
        got = await this.deps.store.changes(cursor, g);
      } catch {
        return undefined;
      }
      // An empty answer with no error: the rest of the range holds entries with no events (gaps).
      if (got.length === 0) break;
      for (const c of got) keys.push(c.key);
      cursor = Math.max(...got.map((c) => c.generation));
    }
    return keys;
  }

  private listed = false;

  /** The resources this node renders, as the config fs declares them now. */
  private async relist(g: number): Promise<void> {
    this.listed = true;
    const names = new Set<string>();
    for (const name of await listResources(this.deps.store)) {
      let spec: RenderSpec | undefined;
      try {
        spec = await readSpec(this.deps.store, name);
      } catch (err) {
        // A bad spec is that resource's error, reported; the others go on.
        const t = this.tracked.get(name);
        if (t) this.fail(t, err, g);
        else
          this.deps.log.log("warn", "render resource not loaded", {
            resource: name,
            error: (err as Error).message,
          });
        if (t) names.add(name);
        continue;
      }
      if (!spec || !rendersOn(spec, this.deps.node)) continue;
      names.add(name);
      const t = this.tracked.get(name);
      if (t) t.spec = spec;
      else {
        const saved = this.saved.get(name);
        this.saved.delete(name);
        // A change it had seen but not rendered when the daemon stopped is still to be rendered,
        // and so is a resource it has no record of.
        const now = this.deps.clock.monotonic();
        const dirty = saved === undefined || saved.pending;
        this.tracked.set(name, {
          ...emptyReport(name),
          ...(saved ?? {}),
          pending: dirty,
          spec,
          debounce: dirty ? { firstChange: now, lastChange: now } : { firstChange: null, lastChange: null },
        });
      }
    }
    for (const name of [...this.tracked.keys()]) {
      if (!names.has(name)) {
        this.deps.log.log("info", "render resource dropped; its file stays", { resource: name });
        this.tracked.delete(name);
      }
    }
  }

  private async render(r: Tracked): Promise<void> {
    const started = this.deps.clock.monotonic();
    try {
      const view = await readView(this.deps.store, r.name);
      r.spec = view.spec;
      if (!rendersOn(view.spec, this.deps.node)) {
        this.tracked.delete(r.name);
        return;
      }
      let out: Awaited<ReturnType<typeof installRendered>>;
      try {
        out = await installRendered(
          this.deps.proc,
          view.spec,
          await renderTemplate(r.name, view.template, view.data),
        );
      } catch (err) {
        if (err instanceof RenderError) err.generation ??= view.generation;
        throw err;
      }
      r.check = out.check ?? r.check;
      if (out.changed) {
        r.installedAt = this.deps.clock.now();
        const reload = await runReload(this.deps.proc, view.spec);
        r.reload = view.spec.reload ? (reload.ok ? "ok" : "failed") : "none";
        this.deps.log.log(reload.ok ? "info" : "error", "rendered", {
          resource: r.name,
          dest: view.spec.dest,
          generation: view.generation,
          ...(reload.ok ? {} : { reloadOutput: reload.output }),
        });
      }
      r.generation = Math.max(r.generation, view.generation);
      r.error = null;
      this.settle(r, started);
    } catch (err) {
      if (err instanceof RenderError || (err instanceof HfsError && err.code === "E_RENDER_SPEC")) {
        this.fail(r, err, (err instanceof RenderError ? err.generation : undefined) ?? this.seen ?? 0);
        this.settle(r, started);
      } else {
        // The store's trouble, not the resource's: the change still waits, and is tried again.
        this.deps.log.log("warn", "render postponed", { resource: r.name, error: (err as Error).message });
        r.debounce.lastChange = this.deps.clock.monotonic() + RETRY_MS - r.spec.waitMinMs;
        r.debounce.firstChange = r.debounce.lastChange;
        return;
      }
    }
    await this.saveState();
    await this.publish();
  }

  /** Changes that came while it rendered stay pending; the rest are done. */
  private settle(r: Tracked, started: number): void {
    if (r.debounce.lastChange !== null && r.debounce.lastChange > started) {
      r.debounce.firstChange = r.debounce.lastChange;
      return;
    }
    r.debounce = { firstChange: null, lastChange: null };
    r.pending = false;
  }

  private fail(r: Tracked, err: unknown, g: number): void {
    const e = err as HfsError;
    r.error = { code: e.code ?? "E_RENDER", message: e.message, generation: g, at: this.deps.clock.now() };
    if (e.code === "E_RENDER_CHECK") r.check = "failed";
    this.deps.log.log("error", "render failed", { resource: r.name, code: r.error.code, error: e.message });
  }

  /** The same report in the config fs, for anyone without this node's status port. */
  private async publish(): Promise<void> {
    try {
      const layout = await this.deps.store.pinned();
      const body = { node: this.deps.node, at: this.deps.clock.now(), ...this.report() };
      await writeFileAtomic(layout.renderReport(this.deps.node), `${JSON.stringify(body)}\n`, 0o644);
    } catch (err) {
      this.deps.log.log("warn", "render report not written to the config fs", {
        error: (err as Error).message,
      });
    }
  }

  private saved = new Map<string, ResourceReport>();

  private async loadState(): Promise<void> {
    this.loaded = true;
    try {
      const s = JSON.parse(await readFile(this.deps.stateFile, "utf8")) as SavedState;
      if (typeof s.seen === "number") this.seen = s.seen;
      for (const r of s.resources ?? []) this.saved.set(r.name, r);
    } catch {
      this.seen = null;
    }
  }

  private async saveState(): Promise<void> {
    const body: SavedState = { seen: this.seen, resources: this.report().resources };
    await writeFileAtomic(this.deps.stateFile, `${JSON.stringify(body)}\n`).catch((err) =>
      this.deps.log.log("warn", "render state not saved", { error: (err as Error).message }),
    );
  }
}

function emptyReport(name: string): ResourceReport {
  return { name, generation: 0, installedAt: null, pending: false, error: null, check: null, reload: null };
}

function publicPart(t: Tracked): ResourceReport {
  const { spec: _s, debounce: _d, ...r } = t;
  return r;
}
