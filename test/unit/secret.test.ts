import { describe, expect, it } from "vitest";
import { loadVolfileTemplates, renderClientVolfile, renderServerVolfile } from "../../src/gluster/volfile.js";
import { parseSecret, volumeAuth } from "../../src/node/secret.js";

const HEX = "0123456789abcdef0123456789abcdef";

describe("the volume secret", () => {
  it.each([
    [HEX, HEX],
    [`  ${HEX}\n`, HEX],
    ["Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/==", "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/=="],
  ])("accepts %j", (text, want) => {
    expect(parseSecret(text, "f")).toBe(want);
  });

  it.each([
    ["", "empty"],
    ["short", "too short"],
    [`${HEX} ${HEX}`, "a space"],
    [`${HEX}#x`, "a '#' (a volfile comment)"],
    [`${HEX}\n${HEX}`, "two lines"],
    ["x".repeat(513), "too long"],
  ])("refuses %j (%s), naming the file and how to make one", (text) => {
    expect(() => parseSecret(text, "/etc/hfs/secret")).toThrow(/\/etc\/hfs\/secret: .*openssl rand -hex 32/);
  });

  it("no secret: no login, bricks admit addresses; a secret: a login and no address rule", async () => {
    expect(volumeAuth("cfg", undefined)).toBeUndefined();
    const auth = volumeAuth("cfg", HEX);
    expect(auth).toEqual({ username: "hfs-cfg", password: HEX });
    const t = await loadVolfileTemplates();
    const servers = [{ name: "a", address: "10.0.0.1", port: 24801 }];
    const volumeId = "0f2c7a52-8d3e-4f7e-9a55-3c1f0b6a2d11";
    const server = renderServerVolfile(t.server, {
      volume: "cfg",
      volumeId,
      servers,
      node: "a",
      brickDir: "/var/lib/hfs-config/brick",
      allowedAddresses: ["10.0.0.1"],
      auth,
    });
    expect(server).toMatch(/option auth.login.cfg-brick-a.allow hfs-cfg/);
    expect(server).toMatch(new RegExp(`option auth.login.hfs-cfg.password ${HEX}`));
    expect(server).not.toMatch(/auth.addr/);
    const client = renderClientVolfile(t.client, { volume: "cfg", volumeId, servers, auth });
    expect(client).toMatch(/option username hfs-cfg/);
    expect(client).toMatch(new RegExp(`option password ${HEX}`));
  });
});
