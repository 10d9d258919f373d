import type { StatusReport } from "../src/daemon/wire.js";

/** One line for a terminal while `repair` waits: how far the daemon's heal crawl has got. */
export function crawlProgressLine(s: Pick<StatusReport, "crawl" | "pendingHeals">, now = Date.now()): string {
  if (!s.crawl) return `pending heals: ${s.pendingHeals}`;
  const secs = Math.max(0, Math.round((now - s.crawl.since) / 1000));
  return `crawling: ${s.crawl.entries} entries looked up in ${secs} s; pending heals: ${s.pendingHeals}`;
}

/** What `serve` is waiting for, from this node's status while its daemon serves (pure). */
export function serveProgressLine(s: StatusReport | undefined): string {
  if (!s) return "waiting for the daemon to answer";
  if (s.creatingVolume) return "creating the config volume";
  if (!s.server) return "joining: starting the brick and adding its marker";
  if (s.crawl) return `healing: ${crawlProgressLine(s)}`;
  if (s.pendingHeals !== null && s.pendingHeals > 0) return `healing: ${s.pendingHeals} entries left`;
  if (!s.ready) return "waiting for the mount to settle";
  return "serving; checking the brick holds every key";
}

/** What `repair` is doing now, from this node's status (pure). */
export function repairProgressLine(s: StatusReport | undefined, now = Date.now()): string | undefined {
  if (!s?.repair) return undefined;
  const secs = Math.max(0, Math.round((now - s.repair.since) / 1000));
  const crawl = s.crawl ? `; ${crawlProgressLine(s, now)}` : "";
  return `${s.repair.step} (${secs} s)${crawl}`;
}

/**
 * Progress of long work on stderr. On a terminal, one line redrawn in place (at most 10 times a
 * second); otherwise one line when the work starts and nothing more (the result goes to stdout).
 */
export class Progress {
  private last = 0;
  private shown = false;
  constructor(
    private readonly label: string,
    private readonly out: { write(s: string): unknown; isTTY?: boolean } = process.stderr,
    private readonly now: () => number = Date.now,
  ) {}

  /** The line for a log or a pipe: said once. */
  start(text: string): void {
    if (!this.out.isTTY) this.out.write(`${this.label}: ${text}\n`);
    else this.update(text, true);
  }

  update(text: string, force = false): void {
    if (!this.out.isTTY) return;
    const t = this.now();
    if (!force && t - this.last < 100) return;
    this.last = t;
    this.shown = true;
    this.out.write(`\r\x1b[K${this.label}: ${text}`);
  }

  /** Clears the line, so the result prints on a clean one. */
  end(): void {
    if (this.out.isTTY && this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
  }
}
