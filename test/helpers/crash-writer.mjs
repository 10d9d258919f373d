// Writes large values over and over until killed: each value is one byte repeated, so a mix is visible.
import { Store } from "../../dist/src/index.js";

const [root, sizeRaw, staleRaw] = process.argv.slice(2);
const store = new Store({
  root,
  node: "crasher",
  lockStaleMs: Number(staleRaw),
  maxValueBytes: Number(sizeRaw),
});
const size = Number(sizeRaw);
let i = 0;
process.stdout.write("ready\n");
for (;;) {
  const ch = String.fromCharCode(65 + (i++ % 26));
  await store.set("big", Buffer.alloc(size, ch));
}
