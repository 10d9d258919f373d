import type { StatusReport } from "../src/daemon/peers.js";

/** One line for a terminal while `repair` waits: how far the daemon's heal crawl has got. */
export function crawlProgressLine(s: Pick<StatusReport, "crawl" | "pendingHeals">, now = Date.now()): string {
  if (!s.crawl) return `pending heals: ${s.pendingHeals}`;
  const secs = Math.max(0, Math.round((now - s.crawl.since) / 1000));
  return `crawling: ${s.crawl.entries} entries looked up in ${secs} s; pending heals: ${s.pendingHeals}`;
}
