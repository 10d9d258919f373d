import * as v from "valibot";
import { ConflictError, CorruptError, InvalidInputError, MemberNotFoundError } from "../errors.js";
import { isAddress, isNodeName } from "../node/names.js";
import { Layout } from "../store/index.js";
import { type Member, withSelf } from "./members.js";

/*
 * Live members: the cluster's member list kept in the config fs, one record a
 * member under `.hfs/members/`, so every node reads one list and follows a change
 * without a restart. A node's own members file (node.json's `members`) is the seed:
 * what it knows before it has mounted anything. A record overrides the seed entry
 * of its name; a `removed` record takes a seed member out.
 */
export const MEMBERS_DIR = Layout.membersRel;

export interface MemberRecord {
  name: string;
  address?: string;
  statusPort?: number;
  removed?: boolean;
  /** Wall-clock ms, and which node wrote it: for an administrator reading the list. */
  at: number;
  by: string;
}

const record = v.object({
  name: v.pipe(v.string(), v.check(isNodeName)),
  address: v.optional(v.pipe(v.string(), v.check(isAddress))),
  statusPort: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  removed: v.optional(v.boolean()),
  at: v.number(),
  by: v.string(),
});

export function parseMemberRecord(text: string, file: string): MemberRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CorruptError(file, "not valid JSON");
  }
  const r = v.safeParse(record, raw);
  if (!r.success || (!r.output.removed && r.output.address === undefined))
    throw new CorruptError(
      file,
      "not a member record ({ name, address, statusPort?, at, by } or { name, removed })",
    );
  return r.output;
}

/** The members a node works with: the seed, with the records over it, and itself always. */
export function effectiveMembers(seed: Member[], records: MemberRecord[], self: Required<Member>): Member[] {
  const byName = new Map(seed.map((m) => [m.name, m]));
  for (const r of records) {
    if (r.removed) byName.delete(r.name);
    else
      byName.set(r.name, {
        name: r.name,
        address: r.address as string,
        ...(r.statusPort ? { statusPort: r.statusPort } : {}),
      });
  }
  return withSelf([...byName.values()], self);
}

export type MemberChange = { op: "add"; member: Member } | { op: "rm"; name: string };

/**
 * Checks a change against the list it applies to, on a copy, and returns the list
 * after it: nothing is written unless the result is a list a cluster can run on.
 */
export function planMemberChange(
  current: Member[],
  change: MemberChange,
  ctx: { self: string; servers: string[]; defaultStatusPort: number },
): Member[] {
  const port = (m: Member) => m.statusPort ?? ctx.defaultStatusPort;
  if (change.op === "add") {
    const m = change.member;
    const same = current.find((c) => c.name === m.name);
    if (same && same.address === m.address && port(same) === port(m)) return current;
    if (same)
      throw new ConflictError(
        "E_MEMBER_EXISTS",
        `${m.name} is already a member at ${same.address}:${port(same)}. To move it, 'hfs-config members rm ${m.name}' first (it must not serve), then add it again.`,
      );
    const clash = current.find(
      (c) => c.address.toLowerCase() === m.address.toLowerCase() && port(c) === port(m),
    );
    if (clash)
      throw new ConflictError(
        "E_MEMBER_ADDRESS",
        `${m.address}:${port(m)} is already ${clash.name}'s; each member needs its own address or status port.`,
      );
    return [...current, m].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  const gone = current.find((c) => c.name === change.name);
  if (!gone) throw new MemberNotFoundError(change.name);
  if (change.name === ctx.self)
    throw new InvalidInputError(
      "E_USAGE",
      `${change.name} is this node; remove it from another member ('hfs-config members rm ${change.name}' there).`,
    );
  if (ctx.servers.includes(change.name))
    throw new ConflictError(
      "E_MEMBER_SERVES",
      `${change.name} is a server of the config volume; retire it first ('hfs-config retire ${change.name}'), then remove it.`,
    );
  return current.filter((c) => c.name !== change.name);
}
