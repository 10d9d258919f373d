import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import {
  type ClientVolfileInput,
  clientXlatorName,
  loadVolfileTemplates,
  renderClientVolfile,
  renderServerVolfile,
  renderTemplate,
  type ServerVolfileInput,
  type VolfileServer,
  validateVolumeName,
} from "../../src/gluster/volfile.js";

const here = dirname(fileURLToPath(import.meta.url));
const templates = await loadVolfileTemplates(join(here, "..", "..", "volfiles"));
const golden = (name: string) => join(here, "golden", name);

const SERVERS: VolfileServer[] = [
  { name: "node-b", address: "10.0.0.2", port: 24010 },
  { name: "node-a", address: "10.0.0.1", port: 24010 },
  { name: "node-c", address: "10.0.0.3", port: 24011 },
];
const VOLUME_ID = "0F2C7A52-8D3E-4F7E-9A55-3C1F0B6A2D11";

const client = (over: Partial<ClientVolfileInput> = {}): ClientVolfileInput => ({
  volume: "hfs",
  volumeId: VOLUME_ID,
  servers: SERVERS,
  ...over,
});
const server = (over: Partial<ServerVolfileInput> = {}): ServerVolfileInput => ({
  volume: "hfs",
  volumeId: VOLUME_ID,
  servers: SERVERS,
  node: "node-b",
  brickDir: "/var/lib/hfs-config/brick",
  allowedAddresses: ["10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.9", "10.0.0.1"],
  ...over,
});

const TLS = {
  caFile: "/var/lib/hfs-config/tls/ca.pem",
  certFile: "/var/lib/hfs-config/tls/node.pem",
  keyFile: "/var/lib/hfs-config/tls/node.key",
};

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

function refusal(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return err as InvalidInputError;
  }
  throw new Error("expected a refusal");
}

describe("volfile goldens", () => {
  it.each([
    ["client.vol", () => renderClientVolfile(templates.client, client())],
    [
      "client-auth.vol",
      () =>
        renderClientVolfile(templates.client, client({ auth: { username: "hfs", password: "c2VjcmV0" } })),
    ],
    ["server.vol", () => renderServerVolfile(templates.server, server())],
    [
      "server-auth.vol",
      () =>
        renderServerVolfile(templates.server, server({ auth: { username: "hfs", password: "c2VjcmV0" } })),
    ],
    ["client-tls.vol", () => renderClientVolfile(templates.client, client({ tls: TLS }))],
    [
      "server-tls.vol",
      () =>
        renderServerVolfile(templates.server, server({ tls: TLS, tlsAllow: ["node-c", "node-a", "node-b"] })),
    ],
  ])("%s matches its golden file", async (name, render) => {
    await expect(render()).toMatchFileSnapshot(golden(name));
  });
});

describe("client volfile", () => {
  it("is identical for servers given in any order", () => {
    const outputs = new Set(
      permutations(SERVERS).map((s) => renderClientVolfile(templates.client, client({ servers: s }))),
    );
    expect(outputs.size).toBe(1);
  });

  it("names clients after nodes, never positions, and lists them sorted", () => {
    const text = renderClientVolfile(templates.client, client());
    expect(text).toContain("volume hfs-client-node-a\n");
    expect(text).not.toMatch(/client-\d/);
    expect(text).toContain(
      "option afr-pending-xattr hfs-client-node-a,hfs-client-node-b,hfs-client-node-c\n",
    );
    expect(text).toContain("subvolumes hfs-client-node-a hfs-client-node-b hfs-client-node-c\n");
    expect(text).toContain("volume hfs-replicate-0\n");
  });

  it("keeps a server's client name when the list changes", () => {
    const two = renderClientVolfile(
      templates.client,
      client({ servers: SERVERS.filter((s) => s.name !== "node-a") }),
    );
    expect(two).toContain("option afr-pending-xattr hfs-client-node-b,hfs-client-node-c\n");
    expect(two).toContain("volume hfs-replicate-0\n");
    expect(clientXlatorName("hfs", "node-c")).toBe("hfs-client-node-c");
  });

  it("sets quorum, client-side heal and a short ping timeout", () => {
    const text = renderClientVolfile(templates.client, client({ pingTimeoutSeconds: 3 }));
    for (const line of [
      "option quorum-type auto",
      "option data-self-heal on",
      "option metadata-self-heal on",
      "option entry-self-heal on",
      "option ping-timeout 3",
      "option remote-port 24011",
    ]) {
      expect(text).toContain(line);
    }
    expect(text).not.toMatch(/performance\//);
  });
});

describe("server volfile", () => {
  it("is identical for servers given in any order", () => {
    const outputs = new Set(
      permutations(SERVERS).map((s) => renderServerVolfile(templates.server, server({ servers: s }))),
    );
    expect(outputs.size).toBe(1);
  });

  it("listens on its own address and port and allows the sorted, deduplicated addresses", () => {
    const text = renderServerVolfile(templates.server, server({ node: "node-c" }));
    expect(text).toContain("option transport.socket.listen-port 24011\n");
    expect(text).toContain("option transport.socket.bind-address 10.0.0.3\n");
    expect(text).toContain("option auth.addr.hfs-brick-node-c.allow 10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.9\n");
    expect(text).toContain("option volume-id 0f2c7a52-8d3e-4f7e-9a55-3c1f0b6a2d11\n");
    expect(text).toContain("option xattrop-pending-watchlist trusted.afr.hfs-\n");
  });

  it("with TLS, admits the members' common names on top of their addresses, every side with its certificate", () => {
    const text = renderServerVolfile(
      templates.server,
      server({ tls: TLS, tlsAllow: ["node-c", "node-b", "node-a"] }),
    );
    expect(text).toContain("option auth.login.hfs-brick-node-b.ssl-allow node-a,node-b,node-c\n");
    expect(text).toContain("option auth.addr.hfs-brick-node-b.allow 10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.9\n");
    expect(text).toContain("option transport.socket.ssl-enabled on\n");
    expect(text).toContain(`option transport.socket.ssl-own-cert ${TLS.certFile}\n`);
    const c = renderClientVolfile(templates.client, client({ tls: TLS }));
    // One set of ssl options per protocol/client: a brick reached without them would be in the clear.
    expect(c.match(/option transport\.socket\.ssl-enabled on/g)).toHaveLength(3);
    expect(
      c.match(/option transport\.socket\.ssl-ca-list \/var\/lib\/hfs-config\/tls\/ca\.pem/g),
    ).toHaveLength(3);
    expect(c).not.toMatch(/option (username|password)/);
  });

  it.each([
    [
      "TLS beside a login",
      { tls: TLS, tlsAllow: ["node-b"], auth: { username: "u", password: "p" } },
      "E_AUTH_INVALID",
    ],
    ["TLS without its own name allowed", { tls: TLS, tlsAllow: ["node-a"] }, "E_TLS_ALLOW_INVALID"],
    ["TLS with a bad allowed name", { tls: TLS, tlsAllow: ["node-b", "Bad Name"] }, "E_NODE_NAME_INVALID"],
    [
      "a TLS path with a space",
      { tls: { ...TLS, keyFile: "/a b/key" }, tlsAllow: ["node-b"] },
      "E_TLS_PATH_INVALID",
    ],
    [
      "a relative TLS path",
      { tls: { ...TLS, caFile: "ca.pem" }, tlsAllow: ["node-b"] },
      "E_TLS_PATH_INVALID",
    ],
  ] as const)("refuses %s", (_what, over, code) => {
    expect(
      refusal(() => renderServerVolfile(templates.server, server(over as Partial<ServerVolfileInput>))).code,
    ).toBe(code);
  });

  it("requires a login instead of addresses when auth is set", () => {
    const text = renderServerVolfile(templates.server, server({ auth: { username: "u", password: "p" } }));
    expect(text).toContain("option auth.login.hfs-brick-node-b.allow u\n");
    expect(text).toContain("option auth.login.u.password p\n");
    expect(text).not.toContain("auth.addr");
  });
});

describe("invalid input is refused", () => {
  const s = (over: Partial<VolfileServer>): VolfileServer => ({
    name: "n1",
    address: "10.0.0.1",
    port: 24010,
    ...over,
  });
  it.each<[string, Partial<ClientVolfileInput>, string]>([
    ["no servers", { servers: [] }, "E_VOLFILE_NO_SERVERS"],
    ["bad node name (upper case)", { servers: [s({ name: "Node1" })] }, "E_NODE_NAME_INVALID"],
    ["bad node name (leading dash)", { servers: [s({ name: "-n" })] }, "E_NODE_NAME_INVALID"],
    ["bad node name (space)", { servers: [s({ name: "n 1" })] }, "E_NODE_NAME_INVALID"],
    ["port 0", { servers: [s({ port: 0 })] }, "E_PORT_INVALID"],
    ["port 65536", { servers: [s({ port: 65536 })] }, "E_PORT_INVALID"],
    ["fractional port", { servers: [s({ port: 24010.5 })] }, "E_PORT_INVALID"],
    ["duplicate names", { servers: [s({}), s({ address: "10.0.0.2" })] }, "E_DUPLICATE_SERVER"],
    ["duplicate endpoint", { servers: [s({}), s({ name: "n2" })] }, "E_DUPLICATE_SERVER"],
    ["address with a space", { servers: [s({ address: "10.0.0.1 x" })] }, "E_ADDRESS_INVALID"],
    ["bad volume name", { volume: "Hfs" }, "E_VOLUME_NAME_INVALID"],
    ["bad volume id", { volumeId: "not-a-uuid" }, "E_VOLUME_ID_INVALID"],
    ["password with a space", { auth: { username: "u", password: "a b" } }, "E_AUTH_INVALID"],
    ["ping timeout 0", { pingTimeoutSeconds: 0 }, "E_PING_TIMEOUT_INVALID"],
  ])("%s", (_, over, code) => {
    const err = refusal(() => renderClientVolfile(templates.client, client(over)));
    expect(err.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(30);
  });

  it.each<[string, Partial<ServerVolfileInput>, string]>([
    ["node not a server", { node: "node-z" }, "E_VOLFILE_NOT_A_SERVER"],
    ["relative brick dir", { brickDir: "brick" }, "E_BRICK_DIR_INVALID"],
    ["brick dir with a space", { brickDir: "/var/lib/my brick" }, "E_BRICK_DIR_INVALID"],
    ["no allowed addresses", { allowedAddresses: [] }, "E_NO_ALLOWED_ADDRESSES"],
    ["bad allowed address", { allowedAddresses: ["10.0.0.1,10.0.0.2"] }, "E_ADDRESS_INVALID"],
  ])("server: %s", (_, over, code) => {
    expect(refusal(() => renderServerVolfile(templates.server, server(over))).code).toBe(code);
  });

  it.each(["hfs", "a", "cfg-2", "0x"])("volume name %s is valid", (name) => {
    expect(validateVolumeName(name)).toBe(name);
  });
  it.each(["", "-a", "A", "a_b", "a.b", "a/b", "x".repeat(64)])("volume name %j is refused", (name) => {
    expect(refusal(() => validateVolumeName(name)).code).toBe("E_VOLUME_NAME_INVALID");
  });
});

describe("template language", () => {
  it("repeats lists, shadows outer names, drops standalone tag lines, renders inverted sections", () => {
    const t = "a={{a}}\n{{#xs}}\n- {{a}}/{{b}}\n{{/xs}}\n{{^ys}}\nno ys\n{{/ys}}\nend\n";
    expect(renderTemplate(t, { a: "1", xs: [{ b: "2" }, { a: "3", b: "4" }], ys: [] })).toBe(
      "a=1\n- 1/2\n- 3/4\nno ys\nend\n",
    );
  });
  it.each([
    ["{{missing}}", "no value"],
    ["{{#xs}}x", "never closed"],
    ["x{{/xs}}", "closes nothing"],
    ["{{xs}}", "is a list"],
  ])("refuses %s", (t, msg) => {
    expect(() => renderTemplate(t, { xs: [] })).toThrow(msg);
  });
});
