import { createRequire } from "node:module";

/**
 * sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Node has no
 * unix datagram sockets, so the three libc calls go through koffi, as flock does.
 * It is sent from the daemon's own process, so the unit needs only
 * NotifyAccess=main (the `systemd-notify` command, run as a child, races with its
 * own exit and can be ignored by systemd).
 */
interface Calls {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
}

let calls: Calls | undefined;

function load(): Calls {
  if (calls) return calls;
  const require = createRequire(import.meta.url);
  const koffi = require("koffi") as {
    load(name: string): { func(sig: string): (...a: unknown[]) => number };
  };
  const lib = koffi.load("libc.so.6");
  const socket = lib.func("int socket(int domain, int type, int protocol)");
  const sendto = lib.func(
    "long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)",
  );
  const close = lib.func("int close(int fd)");
  calls = {
    socket: (d, t, p) => socket(d, t, p),
    sendto: (fd, buf, len, flags, addr, addrlen) => sendto(fd, buf, len, flags, addr, addrlen),
    close: (fd) => close(fd),
  };
  return calls;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 108;

/** struct sockaddr_un for a path, or for an abstract name written as "@name". */
export function unixAddress(socketPath: string): { addr: Buffer; len: number } {
  const abstract = socketPath.startsWith("@");
  const path = Buffer.from(abstract ? `\0${socketPath.slice(1)}` : socketPath);
  if (path.length >= SUN_PATH_MAX)
    throw new Error(`NOTIFY_SOCKET ${socketPath} is longer than a unix socket path may be`);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  path.copy(addr, 2);
  return { addr, len: 2 + path.length + (abstract ? 0 : 1) };
}

/** Sends `state` ("READY=1", "STATUS=...") when run under systemd; false when not, or when it failed. */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const target = env.NOTIFY_SOCKET;
  if (!target || (!target.startsWith("/") && !target.startsWith("@"))) return false;
  const c = load();
  const { addr, len } = unixAddress(target);
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const msg = Buffer.from(state);
    return c.sendto(fd, msg, msg.length, 0, addr, len) === msg.length;
  } finally {
    c.close(fd);
  }
}
