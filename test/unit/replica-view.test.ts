import { describe, expect, it } from "vitest";
import { parseReplicaView } from "../../src/gluster/replica-view.js";

// Trimmed from a real GlusterFS 10.3 client's .meta/graphs/active/hfs-config-replicate-0/private.
const DUMP = `[cluster/replicate.hfs-config-replicate-0]
child_count = 3
child_up[0] = 1
pending_key[0] = trusted.afr.hfs-config-client-n1
pending_reads[0] = 0
child_up[1] = 0
pending_key[1] = trusted.afr.hfs-config-client-n2
child_up[2] = 1
pending_key[2] = trusted.afr.hfs-config-client-n3
up = 1
`;

describe("parseReplicaView", () => {
  it("names each brick's state by the client it goes through", () => {
    expect(parseReplicaView(DUMP, "hfs-config")).toEqual({ n1: true, n2: false, n3: true });
  });
  it("is undefined for text that is not such a dump, or of another volume", () => {
    expect(parseReplicaView("", "hfs-config")).toBeUndefined();
    expect(parseReplicaView("child_up[0] = 1\n", "hfs-config")).toBeUndefined();
    expect(parseReplicaView(DUMP, "other")).toBeUndefined();
  });
});
