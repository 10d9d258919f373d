import {
  effectiveMembers,
  MEMBERS_DIR,
  type MemberChange,
  type MemberRecord,
  parseMemberRecord,
  planMemberChange,
} from "../members/live.js";
import type { Member } from "../members/members.js";
import type { NodeConfig } from "../node/config.js";
import type { Layout, Store } from "../store/index.js";
import { readJsonDir, readMarkers, readTombstones } from "./markers.js";

/** Every member record in a config fs (mount or brick directory alike). */
export function readMemberRecords(layout: Layout): Promise<MemberRecord[]> {
  return readJsonDir(layout.abs(MEMBERS_DIR), parseMemberRecord);
}

export function selfMember(cfg: NodeConfig): Required<Member> {
  return { name: cfg.name, address: cfg.address, statusPort: cfg.statusPort };
}

/** This node's view of the members: its seed, the config fs's records over it. */
export async function readMembers(layout: Layout, cfg: NodeConfig): Promise<Member[]> {
  return effectiveMembers(cfg.members, await readMemberRecords(layout), selfMember(cfg));
}

/**
 * Adds or removes a member: read, plan on a copy (planMemberChange), then write one
 * record, in one write request, so that every daemon sees the change at the same
 * generation and a watcher of `.hfs/members` hears of it.
 */
export async function changeMembers(
  store: Store,
  cfg: NodeConfig,
  change: MemberChange,
): Promise<{ members: Member[]; generation: number | null }> {
  const res = await store.writeIfNeeded(async (ctx) => {
    const current = await readMembers(ctx.layout, cfg);
    const servers = (await readMarkers(ctx.layout)).map((m) => m.name);
    const retired = new Set((await readTombstones(ctx.layout)).map((t) => t.name));
    const after = planMemberChange(current, change, {
      self: cfg.name,
      servers: servers.filter((s) => !retired.has(s)),
      defaultStatusPort: cfg.statusPort,
    });
    if (after === current) return undefined;
    const name = change.op === "add" ? change.member.name : change.name;
    const rec: MemberRecord =
      change.op === "add"
        ? { ...change.member, at: ctx.now, by: cfg.name }
        : { name, removed: true, at: ctx.now, by: cfg.name };
    return {
      events: [{ op: "members" as const, key: `${MEMBERS_DIR}/${name}` }],
      puts: [
        { path: `${MEMBERS_DIR}/${name}.json`, data: Buffer.from(`${JSON.stringify(rec)}\n`), version: 0 },
      ],
      result: after,
    };
  });
  if (res) return { members: res.result, generation: res.generation };
  return { members: await readMembers(await store.pinned(), cfg), generation: null };
}
