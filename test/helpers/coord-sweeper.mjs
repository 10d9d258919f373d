// Runs an ExpirySweeper over a config fs until killed. Stands in for the node
// daemon's sweeper in CLI tests until the daemon runs one itself.
// Usage: node coord-sweeper.mjs ROOT NODE [POLL_MS]
import { ExpirySweeper } from "../../dist/src/coord/index.js";
import { Store } from "../../dist/src/index.js";

const [root, node, pollRaw] = process.argv.slice(2);
const store = new Store({ root, node });
const sweeper = new ExpirySweeper(store, {
  pollMs: Number(pollRaw ?? 100),
  // The daemon pokes its sweeper when the generation moves (new registrations); with nobody to
  // poke this one, it reads the list of leases often instead, or a lease made after its last
  // read would wait for the default 5 s relist.
  relistMs: 250,
  onError: (err) => process.stderr.write(`sweeper: ${err?.message ?? err}\n`),
  onExpired: (e) => process.stdout.write(`${JSON.stringify(e)}\n`),
});
sweeper.start();
process.stdout.write("ready\n");
const stop = async () => {
  await sweeper.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
