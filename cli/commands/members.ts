import type { Command } from "commander";
import { parseEndpoint } from "../../src/members/members.js";
import { parseNodeName } from "../../src/node/names.js";
import { Context } from "../context.js";

export function registerMembers(program: Command): void {
  const members = program
    .command("members")
    .description(
      "the cluster's members, kept in the config fs: every daemon follows a change without a restart",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config members ls\n  $ hfs-config members add n4 10.0.0.4\n  $ hfs-config members rm n4",
    );

  members
    .command("ls")
    .description("list the members this node works with")
    .action(async (_o, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      const { readMembers } = await import("../../src/cluster/members-store.js");
      const list = await readMembers(await (await ctx.store()).pinned(), cfg);
      ctx.out(list, (l) =>
        l.map((m) => `${m.name.padEnd(12)} ${m.address}:${m.statusPort ?? cfg.statusPort}`).join("\n"),
      );
    });

  members
    .command("add")
    .description("add a member (a node that may become a server later); every daemon asks it from now on")
    .argument("<name>", "the new member's node name")
    .argument("<address>", "its address, ADDRESS or ADDRESS:STATUS_PORT ([v6]:port for IPv6)")
    .addHelpText(
      "after",
      "\nExample:\n  $ hfs-config members add n4 10.0.0.4\n  $ hfs-config members add n5 10.0.0.5:24900",
    )
    .action(async (name: string, address: string, _o, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      parseNodeName(name, "member name");
      const member = { name, ...parseEndpoint(address) };
      const { changeMembers } = await import("../../src/cluster/members-store.js");
      const res = await changeMembers(await ctx.store(), cfg, {
        op: "add",
        member: member as NonNullable<typeof member>,
      });
      ctx.out(res, (r) =>
        r.generation === null
          ? `${name} is already a member`
          : `added ${name} (generation ${r.generation}); members: ${r.members.map((m) => m.name).join(", ")}`,
      );
    });

  members
    .command("rm")
    .description("remove a member that does not serve (retire it first if it does)")
    .argument("<name>", "the member to remove")
    .action(async (name: string, _o, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      parseNodeName(name, "member name");
      const { changeMembers } = await import("../../src/cluster/members-store.js");
      const res = await changeMembers(await ctx.store(), cfg, { op: "rm", name });
      ctx.out(
        res,
        (r) =>
          `removed ${name} (generation ${r.generation}); members: ${r.members.map((m) => m.name).join(", ")}`,
      );
    });
}
