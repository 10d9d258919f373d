import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CodeWith, type ExitCode, InvalidInputError, SetupError } from "../errors.js";

/**
 * Volfiles for the config volume, rendered from the templates in `volfiles/`.
 *
 * The renderers are pure: they take the template text and the inputs and return the volfile, the same
 * bytes for the same inputs. Names are derived from node names, never from list positions, because
 * AFR blames replicas through `trusted.afr.<client name>` xattrs: every client (and any heal tool) must
 * use the same replicate name and the same client name for the same server, whatever the list it has.
 */

export interface VolfileServer {
  /** Node name, `[a-z0-9][a-z0-9-]*`. */
  name: string;
  /** Address the brick listens on and clients connect to (IPv4, IPv6 or host name). */
  address: string;
  /** TCP port of the brick. */
  port: number;
}

export interface VolfileAuth {
  username: string;
  password: string;
}

/**
 * TLS between clients and bricks (GlusterFS's transport.socket.ssl-*): every side proves itself with a
 * certificate from a CA in `caFile`, and the bricks admit the common names in `ServerVolfileInput.tlsAllow`.
 */
export interface VolfileTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface VolumeSpec {
  /** Volume name, `[a-z0-9][a-z0-9-]*`. */
  volume: string;
  /** Volume UUID; the brick root carries it as `trusted.glusterfs.volume-id`. */
  volumeId: string;
  /** Servers of the volume, in any order: the renderer sorts them by name. */
  servers: readonly VolfileServer[];
  /**
   * With auth, clients must log in with these credentials (`auth.login`), from any address.
   * Without auth, bricks accept clients from `allowedAddresses` (`auth.addr`).
   * Both at once would not add up: protocol/server accepts a client that ANY auth module accepts, so an
   * allowed address would get in without a password (seen on GlusterFS 10.3).
   */
  auth?: VolfileAuth | undefined;
  /**
   * With TLS, the certificate is the login: GlusterFS takes the peer's common name as its user name and
   * checks it against `auth.login.<brick>.ssl-allow`, so `auth` must not be given beside it.
   */
  tls?: VolfileTls | undefined;
}

export interface ServerVolfileInput extends VolumeSpec {
  /** The node whose brick this is; must be one of `servers`. */
  node: string;
  /** Absolute path of the brick directory. */
  brickDir: string;
  /** Addresses allowed to connect (`auth.addr`; `*` wildcards allowed). Needed unless `auth` is set. */
  allowedAddresses: readonly string[];
  /** With TLS: the common names (node names) the brick admits, on top of the addresses. */
  tlsAllow?: readonly string[];
}

export interface ClientVolfileInput extends VolumeSpec {
  /** Seconds before a silent brick is declared gone (GlusterFS default 42). */
  pingTimeoutSeconds?: number;
}

export interface VolfileTemplates {
  server: string;
  client: string;
  /** The self-heal daemon's graph: the client's, with the replicate volume acting as healer. */
  shd: string;
}

export const DEFAULT_PING_TIMEOUT_SECONDS = 10;

const NAME_RE = /^[a-z0-9][a-z0-9-]*$/;
const MAX_NAME = 63;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOST_RE = /^[A-Za-z0-9.:-]+$/;
const ALLOW_RE = /^[A-Za-z0-9.:*-]+$/;
const USER_RE = /^[A-Za-z0-9_.-]+$/;
const PASSWORD_RE = /^[A-Za-z0-9_.+/=@%:-]+$/;
const PATH_RE = /^\/[A-Za-z0-9_.+@%:/-]*$/;

function invalid(code: CodeWith<typeof ExitCode.usage>, message: string): InvalidInputError {
  return new InvalidInputError(code, message);
}

/** Refuses a volume name that is not `[a-z0-9][a-z0-9-]*` (at most 63 chars). */
export function validateVolumeName(volume: string): string {
  if (!NAME_RE.test(volume) || volume.length > MAX_NAME) {
    throw invalid(
      "E_VOLUME_NAME_INVALID",
      `invalid volume name ${JSON.stringify(volume)}: use lower-case letters, digits and '-', starting with a letter or digit, at most ${MAX_NAME} characters.`,
    );
  }
  return volume;
}

/** Refuses a node name that is not `[a-z0-9][a-z0-9-]*` (at most 63 chars). */
export function validateNodeName(name: string): string {
  if (!NAME_RE.test(name) || name.length > MAX_NAME) {
    throw invalid(
      "E_NODE_NAME_INVALID",
      `invalid node name ${JSON.stringify(name)}: use lower-case letters, digits and '-', starting with a letter or digit, at most ${MAX_NAME} characters. Fix it with 'hfs-config setup --force'.`,
    );
  }
  return name;
}

/** Returns the volume id in lower case, refusing anything that is not a UUID. */
export function normalizeVolumeId(volumeId: string): string {
  const id = volumeId.toLowerCase();
  if (!UUID_RE.test(id)) {
    throw invalid(
      "E_VOLUME_ID_INVALID",
      `invalid volume id ${JSON.stringify(volumeId)}: expected a UUID like 0f2c7a52-8d3e-4f7e-9a55-3c1f0b6a2d11.`,
    );
  }
  return id;
}

export function validatePort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(
      "E_PORT_INVALID",
      `invalid port ${String(port)} for ${what}: use an integer from 1 to 65535.`,
    );
  }
  return port;
}

function validateAddress(address: string, what: string): string {
  if (!HOST_RE.test(address)) {
    throw invalid(
      "E_ADDRESS_INVALID",
      `invalid address ${JSON.stringify(address)} for ${what}: use an IPv4 or IPv6 address or a host name.`,
    );
  }
  return address;
}

function validateTls(tls: VolfileTls): VolfileTls {
  for (const [what, path] of [
    ["CA list", tls.caFile],
    ["certificate", tls.certFile],
    ["private key", tls.keyFile],
  ] as const) {
    if (!PATH_RE.test(path) || path.length < 2) {
      throw invalid(
        "E_TLS_PATH_INVALID",
        `invalid TLS ${what} path ${JSON.stringify(path)}: use an absolute path of letters, digits and _.+@%:/- without spaces.`,
      );
    }
  }
  return tls;
}

function validateAuth(auth: VolfileAuth): VolfileAuth {
  if (!USER_RE.test(auth.username)) {
    throw invalid(
      "E_AUTH_INVALID",
      "invalid volume username: use letters, digits, '_', '.' and '-' (no spaces).",
    );
  }
  if (!PASSWORD_RE.test(auth.password)) {
    throw invalid(
      "E_AUTH_INVALID",
      "invalid volume password: use letters, digits and _.+/=@%:- only (no spaces or '#'), e.g. a hex or base64 string.",
    );
  }
  return auth;
}

/**
 * Name of the subvolume a server's brick exports, from its node name. Distinct per node because
 * glfsheal names bricks HOST:SUBVOLUME: with one name for all, two bricks on one address could not
 * be told apart when choosing a split-brain source.
 */
export function brickSubvolumeName(volume: string, node: string): string {
  return `${volume}-brick-${node}`;
}

/** Name of the protocol/client for a server: from its node name, never from a list position. */
export function clientXlatorName(volume: string, node: string): string {
  return `${volume}-client-${node}`;
}

/** Name of the replicate translator: the same on every node and in every graph. */
export function replicateXlatorName(volume: string): string {
  return `${volume}-replicate-0`;
}

/** Servers validated and sorted by name (code-unit order, locale independent). */
export function sortedServers(servers: readonly VolfileServer[]): VolfileServer[] {
  if (servers.length === 0) {
    throw invalid(
      "E_VOLFILE_NO_SERVERS",
      "a volume needs at least one server: make a node a server with 'hfs-config serve'.",
    );
  }
  const names = new Set<string>();
  const endpoints = new Map<string, string>();
  for (const s of servers) {
    validateNodeName(s.name);
    validateAddress(s.address, `server ${s.name}`);
    validatePort(s.port, `server ${s.name}`);
    if (names.has(s.name)) {
      throw invalid(
        "E_DUPLICATE_SERVER",
        `server ${s.name} is listed twice: each node serves at most one brick. Remove the duplicate.`,
      );
    }
    names.add(s.name);
    const endpoint = `${s.address}:${s.port}`;
    const other = endpoints.get(endpoint);
    if (other !== undefined) {
      throw invalid(
        "E_DUPLICATE_SERVER",
        `servers ${other} and ${s.name} both use ${endpoint}: one brick would count twice. Give each server its own address or brick port.`,
      );
    }
    endpoints.set(endpoint, s.name);
  }
  return [...servers]
    .map((s) => ({ name: s.name, address: s.address, port: s.port }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function commonVars(spec: VolumeSpec) {
  const volume = validateVolumeName(spec.volume);
  const volumeId = normalizeVolumeId(spec.volumeId);
  const servers = sortedServers(spec.servers);
  const auth = spec.auth === undefined ? undefined : validateAuth(spec.auth);
  const tls = spec.tls === undefined ? undefined : validateTls(spec.tls);
  if (auth !== undefined && tls !== undefined) {
    throw invalid(
      "E_AUTH_INVALID",
      "a volume has either TLS or a login secret: with TLS the certificate's common name is the login, and GlusterFS ignores the password.",
    );
  }
  return { volume, volumeId, servers, auth, tls };
}

export function renderServerVolfile(template: string, input: ServerVolfileInput): string {
  const c = commonVars(input);
  validateNodeName(input.node);
  const self = c.servers.find((s) => s.name === input.node);
  if (self === undefined) {
    throw invalid(
      "E_VOLFILE_NOT_A_SERVER",
      `node ${input.node} is not in the server list (${c.servers.map((s) => s.name).join(", ")}): only a server has a brick volfile. Run 'hfs-config serve' on it first.`,
    );
  }
  if (!PATH_RE.test(input.brickDir) || input.brickDir.includes("//") || input.brickDir.length < 2) {
    throw invalid(
      "E_BRICK_DIR_INVALID",
      `invalid brick directory ${JSON.stringify(input.brickDir)}: use an absolute path of letters, digits and _.+@%:/- without spaces.`,
    );
  }
  const brickDir = input.brickDir.endsWith("/") ? input.brickDir.slice(0, -1) : input.brickDir;
  const allowed = [...new Set(input.allowedAddresses)].sort();
  for (const a of allowed) {
    if (!ALLOW_RE.test(a)) {
      throw invalid(
        "E_ADDRESS_INVALID",
        `invalid allowed address ${JSON.stringify(a)}: use IPv4/IPv6 addresses or patterns like 10.0.0.*.`,
      );
    }
  }
  const tlsAllow = [...new Set(input.tlsAllow ?? [])].sort();
  for (const n of tlsAllow) validateNodeName(n);
  if (c.tls !== undefined && !tlsAllow.includes(self.name)) {
    throw invalid(
      "E_TLS_ALLOW_INVALID",
      `the brick of ${self.name} would not admit ${self.name}'s own certificate: give the member names it admits (tlsAllow), including its own.`,
    );
  }
  if (c.auth === undefined && allowed.length === 0) {
    throw invalid(
      "E_NO_ALLOWED_ADDRESSES",
      "the brick would accept no client: give the member addresses allowed to connect, or set volume credentials.",
    );
  }
  return renderTemplate(template, {
    volume: c.volume,
    volumeId: c.volumeId,
    node: self.name,
    address: self.address,
    port: String(self.port),
    brick: brickSubvolumeName(c.volume, self.name),
    brickDir,
    allowedAddresses: allowed.join(","),
    auth: c.auth === undefined ? [] : [{ username: c.auth.username, password: c.auth.password }],
    tls: tlsScope(c.tls, tlsAllow),
  });
}

export function renderClientVolfile(template: string, input: ClientVolfileInput): string {
  const c = commonVars(input);
  const ping = input.pingTimeoutSeconds ?? DEFAULT_PING_TIMEOUT_SECONDS;
  if (!Number.isInteger(ping) || ping < 1 || ping > 1800) {
    throw invalid(
      "E_PING_TIMEOUT_INVALID",
      `invalid ping timeout ${ping}: use whole seconds from 1 to 1800.`,
    );
  }
  const clientNames = c.servers.map((s) => clientXlatorName(c.volume, s.name));
  return renderTemplate(template, {
    volume: c.volume,
    volumeId: c.volumeId,
    pingTimeout: String(ping),
    serverNames: c.servers.map((s) => s.name).join(", "),
    pendingXattrs: clientNames.join(","),
    subvolumes: clientNames.join(" "),
    servers: c.servers.map((s) => ({
      name: s.name,
      address: s.address,
      port: String(s.port),
      brick: brickSubvolumeName(c.volume, s.name),
    })),
    auth: c.auth === undefined ? [] : [{ username: c.auth.username, password: c.auth.password }],
    tls: tlsScope(c.tls, []),
  });
}

function tlsScope(tls: VolfileTls | undefined, allow: readonly string[]): TemplateScope[] {
  if (tls === undefined) return [];
  return [{ caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile, tlsAllow: allow.join(",") }];
}

/** The self-heal daemon volfile: the same clients, names and pending-xattr list as renderClientVolfile. */
export function renderShdVolfile(template: string, input: ClientVolfileInput): string {
  return renderClientVolfile(template, input);
}

// ---------------------------------------------------------------------------------------------------
// A tiny template language: `{{name}}` inserts a value; `{{#list}}...{{/list}}` repeats for each item
// of a list (item fields shadow outer ones); `{{^list}}...{{/list}}` renders when the list is empty.
// A line holding only a section tag disappears. Unknown names are errors: a template bug must not
// produce a volfile with a hole in it.

export type TemplateValue = string | readonly TemplateScope[];
export interface TemplateScope {
  readonly [name: string]: TemplateValue;
}

type Node =
  | { kind: "text"; text: string }
  | { kind: "var"; name: string }
  | { kind: "section"; name: string; inverted: boolean; children: Node[] };

const TAG_RE = /\{\{\s*([#^/]?)\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g;
const STANDALONE_RE = /^[ \t]*(\{\{\s*[#^/]\s*[A-Za-z][A-Za-z0-9_]*\s*\}\})[ \t]*\r?\n/gm;

function parseTemplate(template: string): Node[] {
  const text = template.replace(STANDALONE_RE, "$1");
  const root: Node[] = [];
  const stack: { name: string; children: Node[] }[] = [{ name: "", children: root }];
  let last = 0;
  for (const m of text.matchAll(TAG_RE)) {
    const top = stack[stack.length - 1] as { name: string; children: Node[] };
    if (m.index > last) top.children.push({ kind: "text", text: text.slice(last, m.index) });
    last = m.index + m[0].length;
    const sigil = m[1] ?? "";
    const name = m[2] ?? "";
    if (sigil === "") {
      top.children.push({ kind: "var", name });
    } else if (sigil === "/") {
      if (stack.length === 1 || top.name !== name) {
        throw new Error(`template: {{/${name}}} closes ${top.name ? `{{#${top.name}}}` : "nothing"}`);
      }
      stack.pop();
    } else {
      const section: Node = { kind: "section", name, inverted: sigil === "^", children: [] };
      top.children.push(section);
      stack.push({ name, children: section.children });
    }
  }
  if (stack.length > 1) throw new Error(`template: {{#${stack[stack.length - 1]?.name}}} is never closed`);
  if (last < text.length) root.push({ kind: "text", text: text.slice(last) });
  return root;
}

function lookup(scopes: readonly TemplateScope[], name: string): TemplateValue {
  for (let i = scopes.length - 1; i >= 0; i--) {
    const scope = scopes[i] as TemplateScope;
    if (Object.hasOwn(scope, name)) return scope[name] as TemplateValue;
  }
  throw new Error(`template: no value for {{${name}}}`);
}

function renderNodes(nodes: readonly Node[], scopes: readonly TemplateScope[], out: string[]): void {
  for (const node of nodes) {
    if (node.kind === "text") {
      out.push(node.text);
    } else if (node.kind === "var") {
      const v = lookup(scopes, node.name);
      if (typeof v !== "string")
        throw new Error(`template: {{${node.name}}} is a list; use {{#${node.name}}}`);
      out.push(v);
    } else {
      const v = lookup(scopes, node.name);
      if (typeof v === "string") throw new Error(`template: {{#${node.name}}} needs a list`);
      if (node.inverted) {
        if (v.length === 0) renderNodes(node.children, scopes, out);
      } else {
        for (const item of v) renderNodes(node.children, [...scopes, item], out);
      }
    }
  }
}

/** Renders a template (see above) with `vars`; throws on unknown names or unbalanced sections. */
export function renderTemplate(template: string, vars: TemplateScope): string {
  const out: string[] = [];
  renderNodes(parseTemplate(template), [vars], out);
  return out.join("");
}

// ---------------------------------------------------------------------------------------------------

/** Finds `volfiles/` of this package, from src/ (tsx, vitest) or from dist/src/ (built). */
export function defaultVolfileTemplateDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/gluster -> repo root is two levels up; dist/src/gluster is three.
  return here.includes(`${join("dist", "src")}`)
    ? join(here, "..", "..", "..", "volfiles")
    : join(here, "..", "..", "volfiles");
}

/** Reads the volfile templates (the only I/O of this module). */
export async function loadVolfileTemplates(
  dir: string = defaultVolfileTemplateDir(),
): Promise<VolfileTemplates> {
  try {
    const [server, client, shd] = await Promise.all([
      readFile(join(dir, "server.vol.tmpl"), "utf8"),
      readFile(join(dir, "client.vol.tmpl"), "utf8"),
      readFile(join(dir, "shd.vol.tmpl"), "utf8"),
    ]);
    return { server, client, shd };
  } catch (err) {
    throw new SetupError(
      "E_VOLFILE_TEMPLATES_MISSING",
      `cannot read the volfile templates in ${dir} (${(err as Error).message}): the installation is incomplete; reinstall hfs-config (the package ships volfiles/).`,
    );
  }
}
