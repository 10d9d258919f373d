import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { isNodeName } from "../node/names.js";

/**
 * Sealing the writes one daemon hands another (see forward.ts): AES-256-GCM under the
 * cluster's peer key, which lives in the config fs (`.hfs/peer.key`). So exactly those who
 * can read the volume (and could therefore write it directly) can forge a forwarded write,
 * whatever the bricks' access mode; a sealed write is also private on the wire, as brick
 * traffic is with TLS.
 *
 * A request is bound to its sender, its one recipient and its wall-clock time; the committer
 * refuses one outside SEAL_WINDOW_MS of its own clock, one sealed before it started (a
 * restarted committer has forgotten what it saw), and any nonce it has already seen, so a
 * copied request cannot be played again, there or at another node. An answer is bound to
 * its request's nonce, so an answer to one request cannot pass for the answer to another.
 */

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** How far a request's time may be from the committer's clock, either way. */
export const SEAL_WINDOW_MS = 60_000;

export interface RequestSeal {
  from: string;
  to: string;
  /** Wall-clock ms when it was sealed. */
  ts: number;
  /** nonce | ciphertext | tag. */
  body: Buffer;
}

function requestAad(r: Omit<RequestSeal, "body">): Buffer {
  return Buffer.from(`hfs-forward-request/1\n${r.from}\n${r.to}\n${r.ts}`);
}

function answerAad(requestNonce: Buffer): Buffer {
  return Buffer.concat([Buffer.from("hfs-forward-answer/1\n"), requestNonce]);
}

function seal(key: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]);
}

/** The plaintext, or undefined when the box was not sealed under `key` with `aad`, or was changed. */
function unseal(key: Buffer, aad: Buffer, box: Buffer): Buffer | undefined {
  if (box.length < NONCE_BYTES + TAG_BYTES) return undefined;
  const d = createDecipheriv("aes-256-gcm", key, box.subarray(0, NONCE_BYTES));
  d.setAAD(aad);
  d.setAuthTag(box.subarray(box.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(box.subarray(NONCE_BYTES, box.length - TAG_BYTES)), d.final()]);
  } catch {
    return undefined;
  }
}

export function nonceOf(body: Buffer): Buffer {
  return body.subarray(0, NONCE_BYTES);
}

export function sealRequest(key: Buffer, head: Omit<RequestSeal, "body">, payload: unknown): RequestSeal {
  return { ...head, body: seal(key, requestAad(head), Buffer.from(JSON.stringify(payload))) };
}

export type OpenedRequest =
  | { ok: true; payload: unknown; nonce: Buffer; from: string }
  /**
   * `forged`: not sealed under the key for this committer; `early`: sealed before this committer
   * started, or ahead of its clock (never taken, and it never will be: its nonce is kept until it
   * is too late); `late`: behind the window (a copy may have been taken while it was inside);
   * `replayed`: its nonce was seen.
   */
  | { ok: false; why: "forged" | "early" | "late" | "replayed"; nonce?: Buffer };

/**
 * Opens a request at the committer `self`; one that opens is remembered, so it opens only once.
 * The guard was made when this committer started: a request sealed before then is refused.
 */
export function openRequest(
  key: Buffer,
  self: string,
  r: RequestSeal,
  now: number,
  guard: ReplayGuard,
): OpenedRequest {
  if (r.to !== self || !isNodeName(r.from) || !Number.isSafeInteger(r.ts))
    return { ok: false, why: "forged" };
  const plain = unseal(key, requestAad(r), r.body);
  if (plain === undefined) return { ok: false, why: "forged" };
  const nonce = nonceOf(r.body);
  if (now - r.ts > SEAL_WINDOW_MS) return { ok: false, why: "late", nonce };
  // Seen first, refused or not: an early request refused now must not be taken later.
  if (!guard.firstSight(nonce.toString("hex"), now, r.ts)) return { ok: false, why: "replayed", nonce };
  if (r.ts - now > SEAL_WINDOW_MS || r.ts < guard.since) return { ok: false, why: "early", nonce };
  let payload: unknown;
  try {
    payload = JSON.parse(plain.toString("utf8"));
  } catch {
    return { ok: false, why: "forged" };
  }
  return { ok: true, payload, nonce, from: r.from };
}

export function sealAnswer(key: Buffer, requestNonce: Buffer, payload: unknown): Buffer {
  return seal(key, answerAad(requestNonce), Buffer.from(JSON.stringify(payload)));
}

/** The answer's payload, or undefined when it is not the committer's answer to this very request. */
export function openAnswer(key: Buffer, requestNonce: Buffer, body: Buffer): unknown {
  const plain = unseal(key, answerAad(requestNonce), body);
  if (plain === undefined) return undefined;
  try {
    return JSON.parse(plain.toString("utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The nonces of requests seen, each kept until its request is too late to be taken
 * (SEAL_WINDOW_MS past its time, or past the moment it was seen, whichever is later).
 */
export class ReplayGuard {
  private readonly until = new Map<string, number>();
  private sweptAt: number;

  /** @param since wall-clock ms this committer started at: nothing sealed earlier is taken. */
  constructor(readonly since: number) {
    this.sweptAt = since;
  }

  firstSight(nonce: string, now: number, ts: number): boolean {
    if (now - this.sweptAt > SEAL_WINDOW_MS / 4) {
      for (const [n, until] of this.until) if (now > until) this.until.delete(n);
      this.sweptAt = now;
    }
    if (this.until.has(nonce)) return false;
    this.until.set(nonce, Math.max(now, ts) + SEAL_WINDOW_MS + 1000);
    return true;
  }

  get size(): number {
    return this.until.size;
  }
}

export function newPeerKey(): Buffer {
  return randomBytes(KEY_BYTES);
}
