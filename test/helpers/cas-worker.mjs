// A separate process doing compare-and-set increments of one counter through the library.
// Usage: cas-worker.mjs ROOT NODE COUNT, or cas-worker.mjs --state STATE_DIR NAME COUNT [KEY].
import { open, Store, VersionConflictError } from "../../dist/src/index.js";

const args = process.argv.slice(2);
const byState = args[0] === "--state";
const [where, node, countRaw, keyArg] = byState ? args.slice(1) : args;
const store = byState ? await open(where) : new Store({ root: where, node });
const key = keyArg ?? "counter";
let done = 0;
let conflicts = 0;
while (done < Number(countRaw)) {
  let value = 0;
  let version = 0;
  try {
    const cur = await store.get(key);
    if (cur.kind === "value") {
      value = Number(cur.value.toString());
      version = cur.version;
    }
  } catch (err) {
    if (err?.code !== "E_NOT_FOUND") throw err;
  }
  try {
    await store.set(key, String(value + 1), { ifVersion: version });
    done++;
  } catch (err) {
    if (!(err instanceof VersionConflictError)) throw err;
    conflicts++;
  }
}
process.stdout.write(JSON.stringify({ done, conflicts }));
