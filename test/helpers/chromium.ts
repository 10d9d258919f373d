import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { systemProc } from "../../src/proc.js";

/** Debian's Chromium (apt-get install chromium); undefined when it is not installed. */
export function findChromium(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/"))) {
    for (const name of ["chromium", "chromium-browser"]) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {}
    }
  }
  return undefined;
}

function headless(chromium: string, extra: string[], url: string) {
  // --no-sandbox: tests run as root, where Chromium's sandbox refuses to start. The virtual time
  // budget lets the page's first fetch and drawing finish before the DOM or the picture is taken.
  return systemProc.run(
    chromium,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--virtual-time-budget=4000",
      ...extra,
      url,
    ],
    { timeoutMs: 60_000 },
  );
}

/** The page's DOM after its scripts ran. */
export async function pageDom(chromium: string, url: string): Promise<string> {
  const r = await headless(chromium, ["--dump-dom"], url);
  if (r.code !== 0) throw new Error(`chromium --dump-dom ${url} exited ${r.code}: ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** A PNG of the page, 1000x800. */
export async function screenshot(chromium: string, url: string, file: string): Promise<void> {
  const r = await headless(chromium, ["--window-size=1000,800", `--screenshot=${file}`], url);
  if (r.code !== 0) throw new Error(`chromium --screenshot ${url} exited ${r.code}: ${r.stderr.slice(-500)}`);
}

/** What the status page shows, read back from its DOM. */
export interface PageView {
  health: string;
  servers: string;
  members: { name: string; address: string; answers: string; role: string; ready: string }[];
  locks: { name: string; token: string; holder: string }[];
}

const text = (html: string) =>
  html
    .replace(/<[^>]*>/g, "")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&")
    .trim();

export function readPage(dom: string): PageView {
  const health = /<span id="health"[^>]*>([^<]*)<\/span>/.exec(dom)?.[1] ?? "";
  const servers = text(/<td id="servers">(.*?)<\/td>/s.exec(dom)?.[1] ?? "");
  const members = [...dom.matchAll(/<tr data-name="[^"]*">(.*?)<\/tr>/gs)].map((m) => {
    const cells = [...(m[1] ?? "").matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((c) => text(c[1] ?? ""));
    const [name = "", address = "", answers = "", role = "", ready = ""] = cells;
    return { name, address, answers, role, ready };
  });
  const locks = [...dom.matchAll(/<tr data-lock="[^"]*">(.*?)<\/tr>/gs)].map((m) => {
    const [name = "", token = "", holder = ""] = [...(m[1] ?? "").matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map(
      (c) => text(c[1] ?? ""),
    );
    return { name, token, holder };
  });
  return { health, servers, members, locks };
}
