import { InvalidInputError } from "../errors.js";
import type { Member } from "./members.js";
import type { Peer } from "./peer-status.js";

/**
 * A gluster peer becomes a member named after its hostname's first label (an IP
 * address keeps its dots as dashes), reached at that hostname. Disconnected peers
 * are members too: membership is who belongs, not who answers now.
 */
export function membersFromPeers(peers: Peer[]): Member[] {
  return peers.map((p) => {
    const host = p.hostname;
    const name = (
      /^\d+(\.\d+){3}$/.test(host) ? host.replaceAll(".", "-") : (host.split(".")[0] ?? "")
    ).toLowerCase();
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
      throw new InvalidInputError(
        "E_BAD_MEMBERS",
        `gluster peer ${JSON.stringify(host)} gives no usable node name; write a members file and use --members FILE.`,
      );
    }
    return { name, address: host };
  });
}
