/** The largest value the store takes unless HFS_MAX_VALUE_BYTES says otherwise. */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/** HFS_MAX_VALUE_BYTES when it is a positive whole number; undefined (the default) otherwise. */
export function maxValueBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.HFS_MAX_VALUE_BYTES;
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
