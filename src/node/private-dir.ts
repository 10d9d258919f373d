import { chmod, mkdir, stat } from "node:fs/promises";

/** Only root (the owner) may enter the state dir: its brick, mounts, logs and volfiles are all inside it. */
export const STATE_DIR_MODE = 0o700;

/**
 * Makes `dir` (and its missing parents) and narrows it to 0700. A state dir made by
 * an earlier version (0755) is narrowed too: the brick dir and the config fs mount
 * under it hold every value, readable by anyone who can walk in.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: STATE_DIR_MODE });
  const st = await stat(dir);
  if ((st.mode & 0o777) !== STATE_DIR_MODE) await chmod(dir, STATE_DIR_MODE);
}
