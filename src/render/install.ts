import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { lstat, open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type CodeWith, type ExitCode, isErrno, RenderError } from "../errors.js";
import { fsyncDir } from "../local-file.js";
import type { Proc } from "../proc.js";
import type { RenderSpec } from "./spec.js";

export interface InstallOutcome {
  /** False: the file already held exactly this, with this mode; nothing was touched or checked. */
  changed: boolean;
  check: "ok" | "none" | null;
}

/** `'...'` for sh, whatever the path holds. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Installs `content` at the resource's destination: written beside it (same
 * directory, so the rename is atomic), synced, given its mode and owner, checked by
 * the check command, and only then renamed over the old file, and the directory
 * synced. A failed check or any failed step removes the temp file and leaves the old
 * file exactly as it was.
 */
export async function installRendered(
  proc: Proc,
  spec: RenderSpec,
  content: string,
): Promise<InstallOutcome> {
  const data = Buffer.from(content);
  const current = await readFile(spec.dest).catch((err) => {
    if (isErrno(err, "ENOENT")) return undefined;
    throw fail(spec, "E_RENDER_INSTALL", `cannot read ${spec.dest} (${(err as Error).message})`);
  });
  if (current?.equals(data)) {
    const st = await lstat(spec.dest);
    if ((st.mode & 0o7777) === spec.mode) return { changed: false, check: null };
  }
  const owner = spec.owner === undefined ? undefined : await resolveOwner(proc, spec);
  const tmp = join(dirname(spec.dest), `.${basename(spec.dest)}.hfs-${randomBytes(6).toString("hex")}`);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    throw fail(
      spec,
      "E_RENDER_INSTALL",
      `cannot write beside ${spec.dest} (${(err as Error).message}); does ${dirname(spec.dest)} exist and is it writable by the daemon?`,
    );
  }
  try {
    try {
      await fh.writeFile(data);
      await fh.chmod(spec.mode);
      if (owner) await fh.chown(owner.uid, owner.gid);
      await fh.sync();
    } finally {
      await fh.close();
    }
    let check: InstallOutcome["check"] = "none";
    if (spec.check) {
      const cmd = spec.check.replaceAll("{{tmp}}", shellQuote(tmp));
      const r = await proc.run("/bin/sh", ["-c", cmd], { timeoutMs: 60_000 });
      if (r.code !== 0) {
        const out = `${r.stdout}${r.stderr}`.trim().split("\n").slice(-5).join(" | ");
        throw fail(
          spec,
          "E_RENDER_CHECK",
          `the check (${spec.check}) refused the new file, exit ${r.code}${out ? `: ${out}` : ""}; the old file stays in place`,
        );
      }
      check = "ok";
    }
    await rename(tmp, spec.dest);
    await fsyncDir(dirname(spec.dest));
    return { changed: true, check };
  } catch (err) {
    await unlink(tmp).catch(() => {});
    if (err instanceof RenderError) throw err;
    throw fail(spec, "E_RENDER_INSTALL", `installing ${spec.dest} failed (${(err as Error).message})`);
  }
}

/** Runs the reload command; its failure is reported, the installed file stays. */
export async function runReload(proc: Proc, spec: RenderSpec): Promise<{ ok: boolean; output: string }> {
  if (!spec.reload) return { ok: true, output: "" };
  const r = await proc.run("/bin/sh", ["-c", spec.reload], { timeoutMs: 60_000 });
  return { ok: r.code === 0, output: `${r.stdout}${r.stderr}`.trim().split("\n").slice(-5).join(" | ") };
}

async function resolveOwner(proc: Proc, spec: RenderSpec): Promise<{ uid: number; gid: number }> {
  const [user, group] = (spec.owner as string).split(":") as [string, string | undefined];
  const lookup = async (db: "passwd" | "group", name: string): Promise<{ id: number; gid?: number }> => {
    if (/^\d+$/.test(name)) return { id: Number(name) };
    const r = await proc.run("getent", [db, name], { timeoutMs: 10_000 });
    const f = r.stdout.split(":");
    if (r.code !== 0 || f.length < 3) {
      throw fail(
        spec,
        "E_RENDER_INSTALL",
        `owner ${spec.owner}: this host has no ${db === "passwd" ? "user" : "group"} ${name}`,
      );
    }
    return db === "passwd" ? { id: Number(f[2]), gid: Number(f[3]) } : { id: Number(f[2]) };
  };
  const u = await lookup("passwd", user);
  const gid = group === undefined ? (u.gid ?? 0) : (await lookup("group", group)).id;
  return { uid: u.id, gid };
}

function fail(spec: RenderSpec, code: CodeWith<typeof ExitCode.error>, what: string): RenderError {
  return new RenderError(code, spec.name, `render resource ${spec.name}: ${what}.`);
}
