// One client of a fault run, inside a node's host: does its kind of work until told
// to stop (SIGTERM), and appends one JSON line per operation to its history file.
// Usage: worker.mjs KIND STATE_DIR NAME HISTORY_FILE [ARGS...]
//   cas KEY          read, then compare-and-set a value unique to this write
//   keys PREFIX      blind sets of keys only this worker writes
//   lock LOCK CMDLOG runs `hfs-config lock`: CMD logs start/end to CMDLOG and makes a fenced set
//   watch PREFIX     follows the journal; restarts itself now and then with --since
//   tree PREFIX      reads PREFIX whole through the daemon, as `get PREFIX --json` does (its kept directories)
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { resolve } from "node:path";
import { remoteReadStore } from "../../dist/src/daemon/read-client.js";
import { VersionConflictError } from "../../dist/src/errors.js";
import { open, watch } from "../../dist/src/index.js";
import { StatePaths } from "../../dist/src/node/state-dir.js";

const [kind, state, name, history, ...rest] = process.argv.slice(2);
const CLI = resolve(import.meta.dirname, "../../dist/cli/hfs-config.js");
let stopping = false;
let onStop = () => {};
process.on("SIGTERM", () => {
  stopping = true;
  onStop();
});
const now = () => performance.timeOrigin + performance.now();
const record = (line) => appendFileSync(history, `${JSON.stringify({ proc: name, ...line })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** ok, fail (definitely not written: a conflict, a usage error) or unknown (anything else). */
function outcomeOf(err) {
  if (!err) return "ok";
  if (err instanceof VersionConflictError) return "fail";
  const code = err.exitCode;
  if (code === 2 || code === 3 || code === 4) return "fail";
  return "unknown";
}

async function withDeadline(p, ms) {
  let t;
  try {
    return await Promise.race([
      p,
      new Promise(
        (_, rej) => (t = setTimeout(() => rej(Object.assign(new Error("timeout"), { exitCode: 5 })), ms)),
      ),
    ]);
  } finally {
    clearTimeout(t);
  }
}

async function cas(key) {
  const store = await open(state, { viaDaemon: true });
  for (let i = 0; !stopping; i++) {
    let version = 0;
    const t0 = now();
    try {
      const cur = await withDeadline(store.get(key), 30_000);
      if (cur.kind === "value") version = cur.version;
      record({
        op: "get",
        key,
        start: t0,
        end: now(),
        outcome: "ok",
        version,
        value: cur.kind === "value" ? cur.value.toString() : null,
      });
    } catch (err) {
      if (err?.code === "E_NOT_FOUND")
        record({ op: "get", key, start: t0, end: now(), outcome: "ok", version: 0, value: null });
      else {
        record({
          op: "get",
          key,
          start: t0,
          end: now(),
          outcome: "unknown",
          error: String(err?.message ?? err).slice(0, 200),
        });
        await sleep(200);
        continue;
      }
    }
    const value = `${name}-${i}`;
    const t1 = now();
    try {
      const r = await withDeadline(store.set(key, value, { ifVersion: version }), 60_000);
      record({
        op: "cas",
        key,
        value,
        ifVersion: version,
        start: t1,
        end: now(),
        outcome: "ok",
        version: r.version,
      });
    } catch (err) {
      record({
        op: "cas",
        key,
        value,
        ifVersion: version,
        start: t1,
        end: now(),
        outcome: outcomeOf(err),
        error: String(err?.message ?? err).slice(0, 200),
      });
      if (outcomeOf(err) === "unknown") await sleep(200);
    }
  }
}

async function keys(prefix) {
  const store = await open(state, { viaDaemon: true });
  for (let i = 0; !stopping; i++) {
    const key = `${prefix}/${name}/k${i % 4}`;
    const value = `${name}-${i}`;
    const t0 = now();
    try {
      const r = await withDeadline(store.set(key, value), 60_000);
      record({ op: "set", key, value, start: t0, end: now(), outcome: "ok", version: r.version });
    } catch (err) {
      record({
        op: "set",
        key,
        value,
        start: t0,
        end: now(),
        outcome: outcomeOf(err),
        error: String(err?.message ?? err).slice(0, 200),
      });
      if (outcomeOf(err) === "unknown") await sleep(200);
    }
    await sleep(20);
  }
}

/** `hfs-config lock L -- node worker.mjs lockcmd ...`: the CMD side is below (kind "lockcmd"). */
async function lock(lockName, cmdLog) {
  for (let i = 0; !stopping; i++) {
    const t0 = now();
    const child = spawn(
      process.execPath,
      [
        CLI,
        "lock",
        lockName,
        "--timeout",
        "30",
        "--",
        process.execPath,
        import.meta.filename,
        "lockcmd",
        state,
        `${name}-${i}`,
        cmdLog,
        lockName,
      ],
      {
        env: process.env,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    const code = await new Promise((r) => child.on("close", (c) => r(c)));
    record({
      op: "lock",
      key: lockName,
      value: `${name}-${i}`,
      start: t0,
      end: now(),
      outcome: code === 0 ? "ok" : code === 4 ? "fail" : "unknown",
      code,
      error: err.slice(-200),
    });
    await sleep(50);
  }
}

/** Inside the lock: logs its start and end, and makes a write fenced with its token. */
async function lockcmd(id, cmdLog, lockName) {
  const token = Number(process.env.HFS_FENCING_TOKEN);
  // Its lock lost, `lock` stops CMD with SIGTERM: a protected job stops then, at once, as this one does
  // (its end is when it stopped, which the lock checker compares with the next holder's start).
  onStop = () => {
    appendFileSync(cmdLog, `${JSON.stringify({ id, ev: "end", token, t: now(), stopped: true })}\n`);
    process.exit(143);
  };
  appendFileSync(cmdLog, `${JSON.stringify({ id, ev: "start", token, t: now() })}\n`);
  await sleep(100 + Math.random() * 300);
  const store = await open(state);
  const t0 = now();
  let outcome = "ok";
  try {
    await store.set(`fenced/${lockName}`, `${id} ${token}`, { fencing: { lock: lockName, token } });
  } catch (err) {
    outcome = outcomeOf(err);
  }
  appendFileSync(cmdLog, `${JSON.stringify({ id, ev: "fenced", token, start: t0, t: now(), outcome })}\n`);
  appendFileSync(cmdLog, `${JSON.stringify({ id, ev: "end", token, t: now() })}\n`);
}

async function watcher(prefix) {
  const store = await open(state);
  let last;
  while (!stopping) {
    const stopper = new AbortController();
    // A stop, like a restart, ends between generations (the generator finishes the one it is in).
    onStop = () => stopper.abort();
    const restartIn = 5_000 + Math.random() * 10_000;
    const t = setTimeout(() => stopper.abort(), restartIn);
    try {
      for await (const ev of watch(store, prefix || undefined, {
        since: last,
        signal: stopper.signal,
        pollMs: 100,
      })) {
        record({
          op: "event",
          generation: ev.generation,
          key: ev.key,
          evop: ev.op,
          version: ev.version,
          t: now(),
        });
        last = ev.generation;
      }
      // A quiet stop to start again with --since, as a restarted watcher would.
      if (last === undefined) last = (await store.generation()).generation;
      record({ op: "restart", since: last, t: now() });
    } catch (err) {
      record({
        op: "watch-error",
        since: last,
        t: now(),
        error: String(err?.message ?? err).slice(0, 200),
        code: err?.code,
      });
      if (err?.code === "E_JOURNAL_GAP") return;
      await sleep(500);
    } finally {
      clearTimeout(t);
    }
  }
}

/**
 * PREFIX read whole over and over, asked of this node's daemon over its control socket as
 * `hfs-config get PREFIX --json` asks it: answered from what the daemon keeps.
 */
async function tree(prefix) {
  const reader = remoteReadStore(new StatePaths(state).controlSocket);
  while (!stopping) {
    const t0 = now();
    try {
      const t = await withDeadline(reader.readTree(prefix), 60_000);
      record({
        op: "tree",
        key: prefix,
        value: JSON.stringify(plain(t)),
        start: t0,
        end: now(),
        outcome: "ok",
      });
    } catch (err) {
      // Not there yet (nothing written under it), or refused: definite. Anything else: unknown.
      const code = err?.exitCode;
      record({
        op: "tree",
        key: prefix,
        start: t0,
        end: now(),
        outcome: code === 3 || code === 4 ? "fail" : "unknown",
        error: String(err?.message ?? err).slice(0, 200),
      });
      await sleep(200);
    }
    await sleep(200);
  }
}

function plain(t) {
  return Object.fromEntries(
    Object.entries(t).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("utf8") : plain(v)]),
  );
}

if (kind === "cas") await cas(rest[0]);
else if (kind === "keys") await keys(rest[0]);
else if (kind === "lock") await lock(rest[0], rest[1]);
else if (kind === "lockcmd") await lockcmd(name, history, rest[0]);
else if (kind === "watch") await watcher(rest[0]);
else if (kind === "tree") await tree(rest[0]);
process.exit(0);
