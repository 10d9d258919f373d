// Takes the store's write lock on a mount, as a writer does, and says what happens:
// `hold PATH` prints "held" and keeps it until a line comes on stdin;
// `wait PATH` prints "waiting", then "got" once the lock is its own, and lets it go.
import { createInterface } from "node:readline";
import { WriteLock } from "../../dist/src/store/write-lock.js";

const [mode, path] = process.argv.slice(2);
const lock = await WriteLock.open(path);
if (mode === "wait") process.stdout.write("waiting\n");
await lock.lock(120_000);
process.stdout.write(mode === "hold" ? "held\n" : "got\n");
if (mode === "hold") {
  const rl = createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once("line", resolve));
  rl.close();
}
await lock.close();
process.exit(0);
