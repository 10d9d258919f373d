// A separate process doing compare-and-set increments of one counter through the library.
import { Store, VersionConflictError } from "../../dist/src/index.js";

const [root, node, countRaw] = process.argv.slice(2);
const store = new Store({ root, node });
let done = 0;
let conflicts = 0;
while (done < Number(countRaw)) {
  let value = 0;
  let version = 0;
  try {
    const cur = await store.get("counter");
    if (cur.kind === "value") {
      value = Number(cur.value.toString());
      version = cur.version;
    }
  } catch (err) {
    if (err?.code !== "E_NOT_FOUND") throw err;
  }
  try {
    await store.set("counter", String(value + 1), { ifVersion: version });
    done++;
  } catch (err) {
    if (!(err instanceof VersionConflictError)) throw err;
    conflicts++;
  }
}
process.stdout.write(JSON.stringify({ done, conflicts }));
