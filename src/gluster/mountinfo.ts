/** /proc/self/mountinfo, parsed: what is mounted where, and as what. */

export const GLUSTER_FSTYPE = "fuse.glusterfs";

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** "major:minor" of the mounted filesystem, as st_dev of its files says. */
  device: string;
  mountPoint: string;
  fstype: string;
  /** Mount source; ours read `glusterfs:<volfile-id>` (we pass --volfile-id=hfs-<volume>). */
  source: string;
  options: string;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo text (pure). */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    const mountPoint = pre[4];
    const fstype = post[0];
    if (mountPoint === undefined || fstype === undefined) continue;
    out.push({
      mountId: Number(pre[0]),
      parentId: Number(pre[1]),
      device: pre[2] ?? "",
      mountPoint: unescapeMountField(mountPoint),
      fstype,
      source: unescapeMountField(post[1] ?? ""),
      options: post[2] ?? "",
    });
  }
  return out;
}
