import { describe, expect, it } from "vitest";
import {
  newPeerKey,
  nonceOf,
  openAnswer,
  openRequest,
  ReplayGuard,
  SEAL_WINDOW_MS,
  sealAnswer,
  sealRequest,
} from "../../src/daemon/peer-seal.js";

const key = newPeerKey();
const T = 1_700_000_000_000;
const write = { op: "set", key: "a/b", value: Buffer.from("x").toString("base64") };

function fresh(ts = T, to = "n1") {
  return sealRequest(key, { from: "n2", to, ts }, write);
}

describe("peer seal: what opens at the committer", () => {
  it("a request sealed for this committer opens once, with its payload", () => {
    const guard = new ReplayGuard(T - 1000);
    const r = fresh();
    const opened = openRequest(key, "n1", r, T + 5, guard);
    expect(opened).toMatchObject({ ok: true, payload: write });
    expect(openRequest(key, "n1", r, T + 6, guard)).toMatchObject({ ok: false, why: "replayed" });
  });

  it.each([
    ["another key", (r: ReturnType<typeof fresh>) => ({ k: newPeerKey(), r })],
    ["a changed byte", (r: ReturnType<typeof fresh>) => ({ k: key, r: { ...r, body: flip(r.body, 20) } })],
    ["a changed sender", (r: ReturnType<typeof fresh>) => ({ k: key, r: { ...r, from: "n3" } })],
    ["a changed time", (r: ReturnType<typeof fresh>) => ({ k: key, r: { ...r, ts: r.ts + 1 } })],
    ["a cut body", (r: ReturnType<typeof fresh>) => ({ k: key, r: { ...r, body: r.body.subarray(0, 10) } })],
  ])("%s: forged", (_what, change) => {
    const { k, r } = change(fresh());
    expect(openRequest(k, "n1", r, T, new ReplayGuard(T - 1000))).toMatchObject({ ok: false, why: "forged" });
  });

  it("a request sealed for another member is refused here, so a copy cannot be taken by a second committer", () => {
    const r = fresh(T, "n1");
    expect(openRequest(key, "n3", { ...r, to: "n3" }, T, new ReplayGuard(T - 1000))).toMatchObject({
      why: "forged",
    });
    expect(openRequest(key, "n3", r, T, new ReplayGuard(T - 1000))).toMatchObject({ why: "forged" });
  });

  it("too old: late (a copy may have been taken while it was fresh)", () => {
    const r = fresh(T);
    expect(openRequest(key, "n1", r, T + SEAL_WINDOW_MS + 1, new ReplayGuard(T - 1000))).toMatchObject({
      ok: false,
      why: "late",
    });
  });

  it("ahead of the committer's clock, or sealed before it started: early, and never taken later", () => {
    const guard = new ReplayGuard(T - 1000);
    const ahead = fresh(T + SEAL_WINDOW_MS + 10_000);
    expect(openRequest(key, "n1", ahead, T, guard)).toMatchObject({ ok: false, why: "early" });
    // The same request once the committer's clock has caught up: its nonce is spent.
    expect(openRequest(key, "n1", ahead, T + 20_000, guard)).toMatchObject({ ok: false, why: "replayed" });
    const before = fresh(T - 2000);
    expect(openRequest(key, "n1", before, T, guard)).toMatchObject({ ok: false, why: "early" });
  });

  it("the guard forgets a nonce only once its request is too late to be taken", () => {
    const guard = new ReplayGuard(T - 1000);
    const r = fresh(T);
    expect(openRequest(key, "n1", r, T, guard).ok).toBe(true);
    for (let t = T; t <= T + 3 * SEAL_WINDOW_MS; t += 5_000) {
      const again = openRequest(key, "n1", r, t, guard);
      expect(again.ok).toBe(false);
    }
    // Swept by now (a fresh request's sighting sweeps), and the copy is still refused: late.
    expect(openRequest(key, "n1", fresh(T + 3 * SEAL_WINDOW_MS), T + 3 * SEAL_WINDOW_MS, guard).ok).toBe(
      true,
    );
    expect(guard.size).toBe(1);
  });
});

describe("peer seal: answers", () => {
  it("an answer opens only for the request it answers, unchanged", () => {
    const r1 = fresh();
    const r2 = fresh();
    const a = sealAnswer(key, nonceOf(r1.body), { ok: { key: "a/b", version: 2, generation: 9 } });
    expect(openAnswer(key, nonceOf(r1.body), a)).toEqual({ ok: { key: "a/b", version: 2, generation: 9 } });
    expect(openAnswer(key, nonceOf(r2.body), a)).toBeUndefined();
    expect(openAnswer(key, nonceOf(r1.body), flip(a, 15))).toBeUndefined();
    expect(openAnswer(newPeerKey(), nonceOf(r1.body), a)).toBeUndefined();
    expect(openAnswer(key, nonceOf(r1.body), Buffer.from('{"ok":{}}'))).toBeUndefined();
  });
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] = (c[at] as number) ^ 1;
  return c;
}
