/**
 * The render decisions, pure: when a resource is due, whether a change touches it,
 * and where a rollout stands. The runner and `wait` act on what these return.
 */

/** A resource's debounce clock: when its first unrendered change came, and its latest. */
export interface Debounce {
  firstChange: number | null;
  lastChange: number | null;
}

/**
 * When to render: "idle" with nothing to do, "now", or the ms to wait. Like
 * consul-template's wait: quiet for `minMs` after the latest change, but never
 * more than `maxMs` after the first one, so a steady stream of changes still lands.
 */
export function renderDue(d: Debounce, now: number, minMs: number, maxMs: number): "idle" | "now" | number {
  if (d.firstChange === null || d.lastChange === null) return "idle";
  const at = Math.min(d.lastChange + minMs, d.firstChange + maxMs);
  return at <= now ? "now" : at - now;
}

/** Whether a change to `key` can change what depends on `deps` ("" is a whole-tree change: init, restore). */
export function touches(key: string, deps: readonly string[]): boolean {
  if (key === "") return true;
  return deps.some((d) => d === key || d.startsWith(`${key}/`) || key.startsWith(`${d}/`));
}

/** What one node says of one resource (in its /v1/status answer). */
export interface ResourceReport {
  name: string;
  /** The generation its file is right for: rendered from it, or no change since touched it. */
  generation: number;
  /** When it last installed the file (ms since the epoch); null: never changed it. */
  installedAt: number | null;
  /** True while a change waits for its debounce window. */
  pending: boolean;
  /** The last attempt's failure, at the generation it tried; null after a success. */
  error: { code: string; message: string; generation: number; at: number } | null;
  check: "ok" | "failed" | "none" | null;
  reload: "ok" | "failed" | "none" | null;
}

export interface NodeRenders {
  node: string;
  /** False: the node did not answer (or has no daemon). */
  answered: boolean;
  /** The generation up to which it has looked at changes (resources added or dropped included). */
  seen: number | null;
  resources: ResourceReport[];
}

export interface Rollout {
  done: boolean;
  /** Nodes whose attempt at G or later failed: `wait` exits 4 naming them. */
  failed: { node: string; resource: string; message: string }[];
  /** Nodes not there yet, and why. */
  lagging: { node: string; resource: string; why: string }[];
}

/**
 * Whether generation `g` has been applied. A resource counts on each node that
 * reports it; a node that does not answer is left out unless `all` (then it lags).
 */
export function rollout(
  g: number,
  nodes: NodeRenders[],
  opts: { resource?: string; all?: boolean } = {},
): Rollout {
  const failed: Rollout["failed"] = [];
  const lagging: Rollout["lagging"] = [];
  for (const n of nodes) {
    if (!n.answered) {
      if (opts.all) lagging.push({ node: n.node, resource: opts.resource ?? "*", why: "does not answer" });
      continue;
    }
    const mine = n.resources.filter((r) => opts.resource === undefined || r.name === opts.resource);
    for (const r of mine) {
      if (r.error && r.error.generation >= g && r.generation < g)
        failed.push({ node: n.node, resource: r.name, message: r.error.message });
      else if (r.generation < g)
        lagging.push({
          node: n.node,
          resource: r.name,
          why: r.pending
            ? `at generation ${r.generation}, a change waits to be rendered`
            : `at generation ${r.generation}`,
        });
    }
    // A resource it does not list yet may be one it has not looked for: only a node that has seen g knows.
    if (
      (n.seen ?? -1) < g &&
      !lagging.some((l) => l.node === n.node) &&
      !failed.some((f) => f.node === n.node)
    )
      lagging.push({
        node: n.node,
        resource: opts.resource ?? "*",
        why: `has looked up to generation ${n.seen ?? "none"}`,
      });
  }
  return { done: failed.length === 0 && lagging.length === 0, failed, lagging };
}

/** For `status`: each resource's newest generation across nodes, and the nodes behind it or failing. */
export function renderLag(
  nodes: NodeRenders[],
): { resource: string; node: string; generation: number; newest: number; error: string | null }[] {
  const newest = new Map<string, number>();
  for (const n of nodes)
    for (const r of n.resources) newest.set(r.name, Math.max(newest.get(r.name) ?? 0, r.generation));
  const out: ReturnType<typeof renderLag> = [];
  for (const n of nodes) {
    for (const r of n.resources) {
      const top = newest.get(r.name) ?? 0;
      if (r.generation < top || r.error)
        out.push({
          resource: r.name,
          node: n.node,
          generation: r.generation,
          newest: top,
          error: r.error?.message ?? null,
        });
    }
  }
  return out.sort((a, b) => (a.resource + a.node < b.resource + b.node ? -1 : 1));
}
