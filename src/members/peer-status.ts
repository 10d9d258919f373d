import { InvalidInputError } from "../errors.js";

export interface Peer {
  /** The first hostname gluster knows the peer by. */
  hostname: string;
  otherNames: string[];
  uuid: string;
  connected: boolean;
  state: string;
}

/**
 * Parses `gluster peer status` output. A block per peer:
 *   Hostname: h
 *   Uuid: u
 *   State: Peer in Cluster (Connected)
 *   Other names:
 *   h2
 */
export function parsePeerStatus(text: string): Peer[] {
  const peers: Peer[] = [];
  let cur: Peer | undefined;
  let inOtherNames = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") {
      inOtherNames = false;
      continue;
    }
    if (/^Number of Peers:/i.test(line)) continue;
    const m = /^([A-Za-z ]+):\s*(.*)$/.exec(line);
    if (m && !inOtherNames) {
      const [, field, value] = m as unknown as [string, string, string];
      if (field === "Hostname") {
        cur = { hostname: value, otherNames: [], uuid: "", connected: false, state: "" };
        peers.push(cur);
      } else if (!cur) {
        throw bad(`'${field}:' before any 'Hostname:'`);
      } else if (field === "Uuid") cur.uuid = value;
      else if (field === "State") {
        cur.state = value;
        cur.connected = /\(Connected\)\s*$/.test(value);
      } else if (field === "Other names") inOtherNames = true;
      continue;
    }
    if (m && inOtherNames && m[1] === "Hostname") {
      inOtherNames = false;
      cur = { hostname: m[2] as string, otherNames: [], uuid: "", connected: false, state: "" };
      peers.push(cur);
      continue;
    }
    if (inOtherNames && cur) {
      cur.otherNames.push(line);
      continue;
    }
    throw bad(`unexpected line ${JSON.stringify(line)}`);
  }
  for (const p of peers) if (!p.uuid) throw bad(`peer ${p.hostname} has no Uuid line`);
  return peers;
}

function bad(problem: string): InvalidInputError {
  return new InvalidInputError(
    "E_BAD_PEER_STATUS",
    `could not read 'gluster peer status' output: ${problem}. Use --members FILE instead of --members-from gluster.`,
  );
}
