import { mkdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { InvalidInputError, isErrno, SetupError } from "../../src/errors.js";
import { membersFromPeers } from "../../src/members/from-peers.js";
import { parseMembersFile } from "../../src/members/members.js";
import { parsePeerStatus } from "../../src/members/peer-status.js";
import {
  DEFAULT_BRICK_PORT,
  DEFAULT_STATUS_PORT,
  type NodeConfig,
  writeNodeConfig,
} from "../../src/node/config.js";
import { lookupGroup } from "../../src/node/group.js";
import { parseAddress, parseNodeName, parsePort } from "../../src/node/names.js";
import { installSecret, readSecretFile } from "../../src/node/secret.js";
import { installTls, readTlsDir, removeTls } from "../../src/node/tls.js";
import { systemProc } from "../../src/proc.js";
import { Option } from "../commander.js";
import { Context } from "../context.js";

interface SetupOpts {
  name: string;
  address: string;
  statusPort?: string;
  brickPort?: string;
  members?: string;
  membersFrom?: string;
  engine: "gluster" | "dir";
  dir?: string;
  volume: string;
  secretFile?: string;
  tlsDir?: string;
  tlsTrust?: string[];
  tls?: boolean;
  group?: string;
  force?: boolean;
}

export function registerSetup(program: Command): void {
  program
    .command("setup")
    .description("write this node's identity (node.json in the state dir); idempotent")
    .requiredOption("--name <name>", "this node's name: [a-z0-9][a-z0-9-]*")
    .requiredOption("--address <addr>", "the address other members reach this node at")
    .option("--status-port <port>", `the daemon's HTTP status port (default ${DEFAULT_STATUS_PORT})`)
    .option("--brick-port <port>", `the brick's port when this node serves (default ${DEFAULT_BRICK_PORT})`)
    .option("--members <file>", "members file: one 'NAME ADDRESS[:STATUS_PORT]' a line, # comments")
    .addOption(
      new Option("--members-from <source>", "read members from 'gluster peer status'").choices(["gluster"]),
    )
    .addOption(
      new Option("--engine <engine>", "where the config fs lives")
        .choices(["gluster", "dir"])
        .default("gluster"),
    )
    .option("--dir <path>", "the config fs directory (dir engine)")
    .option("--volume <name>", "the config volume's name (gluster engine)", "hfs-config")
    .option(
      "--secret-file <file>",
      "the cluster's volume secret (the same file on every node; 'openssl rand -hex 32'): bricks then admit only clients that log in with it",
    )
    .option(
      "--tls-dir <dir>",
      "TLS between clients and bricks: DIR holds ca.pem, NAME.pem and NAME.key (see 'hfs-config certs')",
    )
    .option("--tls-trust <file...>", "more CA certificates to trust beside DIR/ca.pem (during a CA rotation)")
    .option("--no-tls", "turn TLS off on this node (removes STATE/tls)")
    .option(
      "--group <group>",
      "a local group whose members may read (get, ls) through the daemon's read socket; root only without",
    )
    .option("--force", "change an existing node.json")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config setup --name n1 --address 127.0.0.1 --engine dir --dir /srv/hfs\n  $ hfs-config setup --name n1 --address 10.0.0.1 --members /etc/hfs/members",
    )
    .action(async (o: SetupOpts, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await planConfig(o);
      if (cfg.engine === "dir") await mkdir(cfg.dir as string, { recursive: true });
      // Checked before anything is written: a bad secret file changes nothing.
      if (o.secretFile !== undefined && cfg.engine !== "gluster")
        throw new InvalidInputError("E_USAGE", "--secret-file goes with the gluster engine only.");
      const secret = o.secretFile === undefined ? undefined : await readSecretFile(o.secretFile);
      const tls = await planTls(o, cfg);
      const outcome = await writeNodeConfig(ctx.paths, cfg, Boolean(o.force));
      if (secret !== undefined) await installSecret(ctx.paths, secret);
      if (tls === "off") await removeTls(ctx.paths);
      else if (tls !== undefined) await installTls(ctx.paths, tls);
      ctx.out(
        { outcome, stateDir: ctx.paths.dir, node: cfg },
        (r) => `${r.outcome} ${ctx.paths.nodeFile}: ${cfg.name} (${cfg.engine} engine)`,
      );
    });
}

/** The TLS material to install ("off" to remove it), read and checked before anything is written. */
async function planTls(o: SetupOpts, cfg: NodeConfig) {
  if (o.tls === false) {
    if (o.tlsDir !== undefined || o.tlsTrust !== undefined)
      throw new InvalidInputError("E_USAGE", "--no-tls goes without --tls-dir and --tls-trust.");
    return "off" as const;
  }
  if (o.tlsDir === undefined) {
    if (o.tlsTrust !== undefined) throw new InvalidInputError("E_USAGE", "--tls-trust goes with --tls-dir.");
    return undefined;
  }
  if (cfg.engine !== "gluster")
    throw new InvalidInputError("E_USAGE", "--tls-dir goes with the gluster engine only.");
  if (o.secretFile !== undefined)
    throw new InvalidInputError(
      "E_USAGE",
      "give --tls-dir or --secret-file, not both: with TLS the certificate is the bricks' login and a secret would go unused.",
    );
  return readTlsDir(resolve(o.tlsDir), cfg.name, new Date(), o.tlsTrust ?? []);
}

async function planConfig(o: SetupOpts): Promise<NodeConfig> {
  const name = parseNodeName(o.name);
  const address = parseAddress(o.address);
  const statusPort =
    o.statusPort === undefined ? DEFAULT_STATUS_PORT : parsePort(o.statusPort, "--status-port");
  const brickPort = o.brickPort === undefined ? DEFAULT_BRICK_PORT : parsePort(o.brickPort, "--brick-port");
  if (o.members && o.membersFrom)
    throw new InvalidInputError("E_USAGE", "give --members FILE or --members-from gluster, not both.");
  if (o.engine === "dir" && !o.dir)
    throw new InvalidInputError("E_USAGE", "--engine dir needs --dir PATH (the config fs directory).");
  if (o.engine !== "dir" && o.dir)
    throw new InvalidInputError("E_USAGE", "--dir only goes with --engine dir.");
  if (!/^[a-z0-9][a-z0-9-]*$/.test(o.volume)) {
    throw new InvalidInputError("E_USAGE", `--volume ${JSON.stringify(o.volume)}: use [a-z0-9][a-z0-9-]*.`);
  }
  if (o.engine === "gluster" && statusPort === brickPort) {
    throw new InvalidInputError("E_USAGE", "--status-port and --brick-port must differ.");
  }
  let members: NodeConfig["members"] = [];
  let membersFrom: NodeConfig["membersFrom"] = "self";
  if (o.members) {
    let text: string;
    try {
      text = await readFile(o.members, "utf8");
    } catch (err) {
      if (isErrno(err))
        throw new InvalidInputError(
          "E_BAD_MEMBERS",
          `--members ${o.members}: ${err.code}; give a readable members file.`,
        );
      throw err;
    }
    members = parseMembersFile(text, o.members, statusPort);
    membersFrom = "file";
  } else if (o.membersFrom === "gluster") {
    const res = await systemProc.run("gluster", ["peer", "status"], { timeoutMs: 20_000 });
    if (res.spawnError) {
      throw new SetupError(
        "E_GLUSTER_MISSING",
        "'gluster' is not installed; use --members FILE, or install glusterfs-server.",
      );
    }
    if (res.code !== 0) {
      throw new SetupError(
        "E_GLUSTER_PEERS",
        `'gluster peer status' failed: ${res.stderr.trim() || res.stdout.trim()}. Is glusterd running? Or use --members FILE.`,
      );
    }
    members = membersFromPeers(parsePeerStatus(res.stdout));
    membersFrom = "gluster";
  }
  const self = members.find((m) => m.name === name);
  if (self && self.address !== address) {
    throw new InvalidInputError(
      "E_BAD_MEMBERS",
      `the members list gives ${name} the address ${self.address}, but --address is ${address}; make them agree.`,
    );
  }
  const cfg: NodeConfig = {
    name,
    address,
    statusPort,
    brickPort,
    engine: o.engine,
    members,
    membersFrom,
    volume: o.volume,
  };
  if (o.engine === "dir") cfg.dir = resolve(o.dir as string);
  if (o.group !== undefined) {
    if ((await lookupGroup(systemProc, o.group)) === undefined) {
      throw new InvalidInputError(
        "E_USAGE",
        `--group ${o.group}: this host has no such group. Create it (groupadd ${o.group}) and add the readers, or leave --group out.`,
      );
    }
    cfg.readGroup = o.group;
  }
  return cfg;
}
