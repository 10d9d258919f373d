import { InvalidInputError } from "../errors.js";
import { parseAddress, parseNodeName, parsePort } from "../node/names.js";

export interface Member {
  name: string;
  address: string;
  /** Undefined: the cluster's default status port. */
  statusPort?: number;
}

/**
 * Parses a members file: one member a line, `NAME ADDRESS[:STATUS_PORT]`, `#`
 * comments, IPv6 in brackets when a port follows (`[fd00::1]:24800`).
 */
export function parseMembersFile(
  text: string,
  source: string,
  /** The port of a member listed without one: the cluster's, which is this node's own. */
  defaultStatusPort: number,
): Member[] {
  const out: Member[] = [];
  const seen = new Map<string, number>();
  const endpoints = new Map<string, { name: string; line: number }>();
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const lineNo = i + 1;
    const line = rawLine.replace(/#.*$/, "").trim();
    if (line === "") return;
    const fail = (problem: string): never => {
      throw new InvalidInputError(
        "E_BAD_MEMBERS",
        `${source} line ${lineNo}: ${problem} (${JSON.stringify(rawLine.trim())}). Each line is 'NAME ADDRESS[:STATUS_PORT]', e.g. 'n1 10.0.0.1:24800'.`,
      );
    };
    const parts = line.split(/\s+/);
    if (parts.length !== 2) fail(`expected 2 fields, found ${parts.length}`);
    const [name, addr] = parts as [string, string];
    try {
      parseNodeName(name, "member name");
    } catch (err) {
      fail((err as Error).message);
    }
    const prev = seen.get(name);
    if (prev !== undefined) fail(`member ${name} is already listed on line ${prev}`);
    seen.set(name, lineNo);
    let member: Member = { name, address: "" };
    try {
      member = { name, ...parseEndpoint(addr) };
    } catch (err) {
      fail((err as Error).message);
    }
    // Two names on one address and port would be one daemon answering for both.
    const at = endpoint(member, defaultStatusPort);
    const other = endpoints.get(at);
    if (other)
      fail(
        `${at} is already ${other.name}'s, on line ${other.line}; each member needs its own address or port`,
      );
    endpoints.set(at, { name, line: lineNo });
    out.push(member);
  });
  return out;
}

/** `ADDRESS`, `ADDRESS:STATUS_PORT` or `[IPV6]:STATUS_PORT`; InvalidInputError naming what is wrong. */
export function parseEndpoint(addr: string): { address: string; statusPort?: number } {
  let address = addr;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(addr);
  if (bracket) {
    address = bracket[1] as string;
    port = bracket[2];
  } else if ((addr.match(/:/g) ?? []).length === 1) {
    [address, port] = addr.split(":") as [string, string];
  }
  const out: { address: string; statusPort?: number } = { address: parseAddress(address, "member address") };
  if (port !== undefined) out.statusPort = parsePort(port, "status port");
  return out;
}

function endpoint(m: Member, defaultStatusPort: number): string {
  const host = m.address.includes(":") ? `[${m.address.toLowerCase()}]` : m.address.toLowerCase();
  return `${host}:${m.statusPort ?? defaultStatusPort}`;
}

/** The first address:port two members share, or undefined. */
export function duplicateEndpoint(members: Member[], defaultStatusPort: number): string | undefined {
  const seen = new Set<string>();
  for (const m of members) {
    const at = endpoint(m, defaultStatusPort);
    if (seen.has(at)) return at;
    seen.add(at);
  }
  return undefined;
}

/** The local node is always a member, with the address and port it was set up with. */
export function withSelf(members: Member[], self: Required<Member>): Member[] {
  const others = members.filter((m) => m.name !== self.name);
  return [...others, self].sort((a, b) => (a.name < b.name ? -1 : 1));
}
