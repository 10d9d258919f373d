import { createRequire } from "node:module";
import { unixAddress } from "../../src/native/sd-notify.js";

/** A unix datagram socket standing in for systemd's NOTIFY_SOCKET: what the daemon sends, in order. */
export class NotifyListener {
  readonly messages: string[] = [];
  private timer: NodeJS.Timeout;

  private constructor(
    private readonly libc: Libc,
    private readonly fd: number,
    readonly path: string,
  ) {
    this.timer = setInterval(() => this.drain(), 20);
  }

  static open(path: string): NotifyListener {
    const libc = load();
    const fd = libc.socket(1, 2 | 0o4000, 0); // AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK
    const { addr, len } = unixAddress(path);
    if (fd < 0 || libc.bind(fd, addr, len) !== 0) throw new Error(`cannot bind a datagram socket at ${path}`);
    return new NotifyListener(libc, fd, path);
  }

  private drain(): void {
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = this.libc.recv(this.fd, buf, buf.length, 0);
      if (n <= 0) return;
      this.messages.push(buf.subarray(0, n).toString());
    }
  }

  /** Every KEY=value line received so far. */
  lines(): string[] {
    this.drain();
    return this.messages.flatMap((m) => m.split("\n"));
  }

  close(): void {
    clearInterval(this.timer);
    this.libc.close(this.fd);
  }
}

interface Libc {
  socket(d: number, t: number, p: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
}

function load(): Libc {
  const require = createRequire(import.meta.url);
  const koffi = require("koffi") as {
    load(name: string): { func(sig: string): (...a: unknown[]) => number };
  };
  const lib = koffi.load("libc.so.6");
  const socket = lib.func("int socket(int, int, int)");
  const bind = lib.func("int bind(int, const void *, uint32_t)");
  const recv = lib.func("long recv(int, _Out_ void *, size_t, int)");
  const close = lib.func("int close(int)");
  return {
    socket: (d, t, p) => socket(d, t, p),
    bind: (fd, a, l) => bind(fd, a, l),
    recv: (fd, b, l, f) => recv(fd, b, l, f),
    close: (fd) => close(fd),
  };
}
