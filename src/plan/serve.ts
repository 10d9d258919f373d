import type { MemberAnswer } from "./types.js";

/**
 * `serve`'s decisions, apart from the waiting and the doing (src/daemon/serve.ts): whether this
 * node may create a new volume, whether a claim to create one stands, and what serving means for
 * this node now (nothing, create, join, or refuse). Pure.
 */

/**
 * A new volume is created only when every member answers, none serves or knows a volume or claims
 * to create one, and no markers were ever read here: a silent member might hold the existing
 * volume, and two volumes in one cluster cannot be merged.
 */
export function mayCreateVolume(self: string, answers: MemberAnswer[], markersKnown: boolean): boolean {
  const others = answers.filter((a) => a.name !== self);
  return (
    answers.length > 0 &&
    !markersKnown &&
    others.every((a) => a.answered && !a.server && !a.volumeId && !a.creatingVolume)
  );
}

/**
 * After its own claim became visible: the member that stops this node from creating the volume
 * (silent, claiming too, serving, or holding a volume id), if any. Two claimants cannot both miss
 * each other: each looked after setting its own claim, so the later look sees the other's.
 */
export function creationRival(self: string, answers: MemberAnswer[]): string | undefined {
  return answers.find((a) => a.name !== self && (!a.answered || a.creatingVolume || a.server || a.volumeId))
    ?.name;
}

export interface ServeFacts {
  self: string;
  /** Retired here (state dir) or tombstoned in the config fs: only a fresh brick may serve. */
  tombstoned: boolean;
  /** This node's marker is in the config fs. */
  marked: boolean;
  local: { server: boolean; brickRunning: boolean; volumeId: string | null };
  /** The volume id on this node's brick dir (a serve cut short leaves one), read when nothing is mounted. */
  brickVolumeId: string | null;
  /** Whether this node's daemon mounts the config volume. */
  mounted: boolean;
  /** The mounted volume's record (`.hfs/volume.json`); null when it has none. */
  volumeRecord: { volumeId: string } | null;
  /** A fresh id, used if a new volume is created (passed in, so the planner stays pure). */
  newVolumeId: string;
  markers: string[];
}

export type ServeStep =
  | { kind: "already-serving"; volumeId: string; servers: string[] }
  /** No volume anywhere: start this brick with `volumeId`, mount it alone, write the marker and the volume record. */
  | { kind: "create"; volumeId: string; setAsideOld: boolean; reason: string }
  /** Start this brick for the mounted volume, then write the marker through the write gate. */
  | { kind: "join"; volumeId: string; setAsideOld: boolean; setAsideUnused: boolean; clearTombstone: boolean }
  | { kind: "refuse"; code: "E_NO_VOLUME_RECORD"; message: string };

export function planServe(f: ServeFacts): ServeStep {
  if (!f.tombstoned && f.local.server && f.local.brickRunning && f.marked && f.local.volumeId)
    return { kind: "already-serving", volumeId: f.local.volumeId, servers: f.markers };
  if (!f.mounted) {
    // A serve cut short (the brick port was taken, say) left its volume id on the brick dir: reuse it.
    // A retired node's old id is never reused: its old brick is set aside.
    const reuse = f.tombstoned ? null : (f.local.volumeId ?? f.brickVolumeId);
    return {
      kind: "create",
      volumeId: reuse ?? f.newVolumeId,
      setAsideOld: f.tombstoned,
      reason: reuse
        ? "no server answers and no markers are known: creating the config volume this brick was stamped for"
        : "no server answers and no markers are known: creating the config volume",
    };
  }
  if (!f.volumeRecord)
    return {
      kind: "refuse",
      code: "E_NO_VOLUME_RECORD",
      message:
        "the mounted config volume has no .hfs/volume.json, so its identity is unknown. Run 'hfs-config repair' first.",
    };
  return {
    kind: "join",
    volumeId: f.volumeRecord.volumeId,
    setAsideOld: f.tombstoned,
    // An empty brick stamped for another volume by an earlier serve goes aside; a retired one's
    // old brick is set aside whole above.
    setAsideUnused: !f.tombstoned,
    clearTombstone: f.tombstoned,
  };
}
