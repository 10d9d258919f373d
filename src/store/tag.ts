import { SetupError } from "../errors.js";
import { fgetxattr, fsetxattr, getxattr } from "../native/libc.js";

/**
 * Every file the store writes carries a tag: the generation that wrote it and, for a
 * user key, its version. The tag is an xattr of the file itself, set before the file
 * is renamed into place, so one rename publishes value and version together: a
 * reader that opened the file reads the version that committed those very bytes,
 * whatever writers do meanwhile. `cat` still reads the plain value.
 */
export const TAG_XATTR = "user.hfs";

export interface Tag {
  generation: number;
  /** 0 for the store's own records, which have no version. */
  version: number;
}

export function tagBytes(tag: Tag): Buffer {
  return Buffer.from(`${tag.generation} ${tag.version}`);
}

/** undefined when the bytes are not a tag (a file made by hand, or an xattr set by someone else). */
export function parseTag(buf: Buffer | undefined): Tag | undefined {
  if (!buf) return undefined;
  const m = /^(\d{1,15}) (\d{1,15})$/.exec(buf.toString("latin1"));
  if (!m) return undefined;
  return { generation: Number(m[1]), version: Number(m[2]) };
}

/** The tag of `path`; undefined when it has none. Throws ENOENT/ENOTDIR like stat would. */
export async function readTag(path: string): Promise<Tag | undefined> {
  return parseTag(await getxattr(path, TAG_XATTR));
}

export async function readTagFd(fd: number, path?: string): Promise<Tag | undefined> {
  return parseTag(await fgetxattr(fd, TAG_XATTR, path));
}

export async function writeTagFd(fd: number, tag: Tag, path?: string): Promise<void> {
  try {
    await fsetxattr(fd, TAG_XATTR, tagBytes(tag), path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTSUP" || code === "EOPNOTSUPP") {
      throw new SetupError(
        "E_NO_XATTR",
        `the config fs at ${path ?? "?"} does not support user extended attributes, where hfs-config keeps each value's version. Use a filesystem that does (ext4, xfs, btrfs, GlusterFS) for the dir engine.`,
      );
    }
    throw err;
  }
}
