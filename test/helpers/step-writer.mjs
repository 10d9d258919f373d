// One write, started on cue: loads everything first, says "ready", waits for a line on
// stdin, then does `set KEY VALUE --if-version V` and prints the result. A test attaches
// strace between "ready" and the cue, so syscall N of the write itself is the Nth it sees.
import { createInterface } from "node:readline";
import { open, Store } from "../../dist/src/index.js";

const [kind, where, key, value, ifVersion] = process.argv.slice(2);
const store = kind === "state" ? await open(where) : new Store({ root: where, node: "crasher" });
// Warm up: the native bindings and the mount pin, so none of that is counted.
await store.version(key);
process.stdout.write("ready\n");
const rl = createInterface({ input: process.stdin });
await new Promise((resolve) => rl.once("line", resolve));
rl.close();
const res = await store.set(key, value, { ifVersion: Number(ifVersion) });
process.stdout.write(`${JSON.stringify(res)}\n`);
process.exit(0);
