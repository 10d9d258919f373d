import { resolve } from "node:path";
import type { Command } from "commander";
import { DEFAULT_CERT_DAYS, makeCerts } from "../../src/node/cert-maker.js";
import { parseNodeName } from "../../src/node/names.js";
import { systemProc } from "../../src/proc.js";
import { Context } from "../context.js";
import { wholeNumber } from "../parse.js";

export function registerCerts(program: Command): void {
  program
    .command("certs")
    .description(
      "make a CA (once) and a TLS certificate per node (common name = node name) for 'setup --tls-dir'",
    )
    .argument("<node...>", "node names to issue certificates for")
    .requiredOption("--out <dir>", "the CA's directory (made 0700); it keeps ca.key: keep it off the nodes")
    .option("--days <n>", "how long node certificates are valid", wholeNumber("--days", 1), DEFAULT_CERT_DAYS)
    .option("--renew", "issue new certificates for nodes that already have one")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config certs --out /root/hfs-ca n1 n2 n3\n  $ scp /root/hfs-ca/{ca.pem,n2.pem,n2.key} root@n2:/root/hfs-tls/\n  $ hfs-config setup --name n2 --address 10.0.0.2 --members /etc/hfs/members --tls-dir /root/hfs-tls",
    )
    .action(async (nodes: string[], o: { out: string; days: number; renew?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      const names = nodes.map((n) => parseNodeName(n));
      const dir = resolve(o.out);
      const r = await makeCerts({ proc: systemProc, now: () => new Date() }, dir, names, {
        days: o.days,
        renew: Boolean(o.renew),
      });
      ctx.out({ dir, ...r }, () =>
        [
          `${r.ca === "made" ? "made a new CA" : "kept the CA"} in ${dir} (ca.pem, ca.key)`,
          ...r.nodes.map((n) => `${n.outcome} ${n.name}.pem, ${n.name}.key`),
          "copy ca.pem, NODE.pem and NODE.key to each node as root; ca.key stays here",
        ].join("\n"),
      );
    });
}
