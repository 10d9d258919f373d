import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const run = promisify(execFile);

async function ip(...args: string[]): Promise<void> {
  await run("ip", args);
}

/**
 * Hosts of our own on this machine: one network namespace per node, each with a
 * veth pair to a bridge of ours, on an address we chose. Processes are started in a
 * host's network namespace only (nsenter --net), so the FUSE mounts they make stay
 * in the one mount namespace every node and the test share.
 *
 * A partition takes the bridge side of a host's link down: packets to and from it
 * vanish without an error, as a cut cable or a dead switch port does, so TCP
 * keepalive and ping timeouts are what notice.
 */
export class NetHosts {
  private constructor(
    readonly tag: string,
    readonly count: number,
    readonly subnet: string,
  ) {}

  static async create(count: number): Promise<NetHosts> {
    const tag = `hf${randomBytes(2).toString("hex")}`;
    // 10.201-250.x.0/24: a subnet nothing else on this machine uses, picked at random per run.
    const subnet = `10.${201 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
    const h = new NetHosts(tag, count, subnet);
    try {
      await ip("link", "add", h.bridge, "type", "bridge");
      await ip("link", "set", h.bridge, "up");
      for (let i = 1; i <= count; i++) {
        await ip("netns", "add", h.ns(i));
        await ip("link", "add", h.outer(i), "type", "veth", "peer", "name", h.inner(i));
        await ip("link", "set", h.inner(i), "netns", h.ns(i));
        await ip("link", "set", h.outer(i), "master", h.bridge);
        await ip("link", "set", h.outer(i), "up");
        await ip("-n", h.ns(i), "addr", "add", `${h.address(i)}/24`, "dev", h.inner(i));
        await ip("-n", h.ns(i), "link", "set", h.inner(i), "up");
        await ip("-n", h.ns(i), "link", "set", "lo", "up");
      }
    } catch (err) {
      await h.destroy();
      throw err;
    }
    return h;
  }

  get bridge(): string {
    return `${this.tag}br`;
  }
  ns(i: number): string {
    return `${this.tag}n${i}`;
  }
  private outer(i: number): string {
    return `${this.tag}o${i}`;
  }
  private inner(i: number): string {
    return `${this.tag}i${i}`;
  }
  address(i: number): string {
    return `${this.subnet}.${i}`;
  }

  /** argv that runs `cmd` inside host i's network namespace. */
  argv(i: number, cmd: string, args: string[]): [string, string[]] {
    return ["nsenter", [`--net=/run/netns/${this.ns(i)}`, "--", cmd, ...args]];
  }

  async partition(i: number): Promise<void> {
    await ip("link", "set", this.outer(i), "down");
  }

  async heal(i: number): Promise<void> {
    await ip("link", "set", this.outer(i), "up");
  }

  /** Removes every namespace, link and the bridge this made; never throws. */
  async destroy(): Promise<void> {
    for (let i = 1; i <= this.count; i++) {
      await ip("netns", "del", this.ns(i)).catch(() => {});
      await ip("link", "del", this.outer(i)).catch(() => {});
    }
    await ip("link", "del", this.bridge).catch(() => {});
  }
}

/** Whether this machine can make hosts of ours (root, ip netns, nsenter). */
export async function canMakeHosts(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "not running as root";
  try {
    await run("ip", ["netns", "list"]);
    await run("nsenter", ["--version"]);
  } catch (err) {
    return `ip netns or nsenter unusable: ${(err as Error).message}`;
  }
  return undefined;
}
