import * as v from "valibot";
import { NodeConfigError } from "../errors.js";
import { duplicateEndpoint, type Member } from "../members/members.js";
import { isAddress, isNodeName } from "./names.js";

export type EngineName = "gluster" | "dir";

/** This node's identity: node.json in the state dir. */
export interface NodeConfig {
  name: string;
  address: string;
  statusPort: number;
  brickPort: number;
  engine: EngineName;
  /** The config fs for the dir engine. */
  dir?: string;
  members: Member[];
  membersFrom: "file" | "gluster" | "self";
  /** Volume name used in generated volfiles. */
  volume: string;
  /** A local group whose members may read through the CLI (the daemon's read socket); root only without. */
  readGroup?: string;
}

/*
 * The shape of node.json, checked whole when it is read: a file edited by hand gets
 * an error naming the field and what it must hold, never a stack trace from deep
 * inside the daemon. Unknown fields are dropped rather than refused, so a node.json
 * written by a newer hfs-config still reads after a downgrade.
 */
const port = v.pipe(
  v.number("a TCP port number"),
  v.integer("a TCP port number"),
  v.minValue(1, "a TCP port from 1 to 65535"),
  v.maxValue(65535, "a TCP port from 1 to 65535"),
);
const nodeName = v.pipe(
  v.string("a node name (a string)"),
  v.check(isNodeName, "a node name: lowercase letters, digits and '-', at most 63 characters"),
);
const address = v.pipe(
  v.string("an address (a string)"),
  v.check(isAddress, "an IPv4 or IPv6 address or a hostname"),
);
const member = v.object(
  { name: nodeName, address, statusPort: v.optional(port) },
  "a member: { name, address, statusPort? }",
);

/** A POSIX group name as useradd/groupadd accept it. */
export const GROUP_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

const nodeConfig = v.pipe(
  v.object(
    {
      name: nodeName,
      address,
      statusPort: port,
      brickPort: port,
      engine: v.picklist(["gluster", "dir"], '"gluster" or "dir"'),
      dir: v.optional(v.pipe(v.string("a directory path"), v.startsWith("/", "an absolute directory path"))),
      members: v.optional(v.array(member, "a list of members"), []),
      membersFrom: v.optional(v.picklist(["file", "gluster", "self"], '"file", "gluster" or "self"'), "self"),
      volume: v.pipe(
        v.string("a volume name (a string)"),
        v.regex(/^[a-z0-9][a-z0-9-]*$/, "a volume name: lowercase letters, digits and '-'"),
      ),
      readGroup: v.optional(v.pipe(v.string("a group name (a string)"), v.regex(GROUP_RE, "a group name"))),
    },
    "a JSON object with this node's settings",
  ),
  v.check(
    (c) => c.engine !== "dir" || c.dir !== undefined,
    "complete: the dir engine needs its directory in 'dir'",
  ),
  v.check(
    (c) => new Set(c.members.map((m) => m.name)).size === c.members.length,
    "without repeats: a member name is listed twice in 'members'",
  ),
  v.check(
    (c) => duplicateEndpoint(c.members, c.statusPort) === undefined,
    "without repeats: two members in 'members' have the same address and status port",
  ),
);

/** node.json's text as a NodeConfig; NodeConfigError naming the first field that is wrong. */
export function parseNodeConfig(text: string, file: string): NodeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new NodeConfigError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new NodeConfigError(file, "the file must be a JSON object with this node's settings");
  const r = v.safeParse(nodeConfig, raw);
  if (r.success) return r.output as NodeConfig;
  const issue = r.issues[0];
  const where = v.getDotPath(issue);
  if (!where) throw new NodeConfigError(file, `the file must be ${issue.message}`);
  // A missing key is reported by the object around it, with the object's message.
  if (issue.type === "object" && issue.input === undefined)
    throw new NodeConfigError(file, `field '${where}' is missing`);
  const held = issue.input === undefined ? "it is missing" : `it holds ${JSON.stringify(issue.input)}`;
  throw new NodeConfigError(file, `field '${where}' must be ${issue.message}, but ${held}`);
}
