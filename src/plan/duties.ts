import type { Discrepancy, MemberAnswer, Plan } from "./types.js";

/**
 * What a daemon does besides carrying out the plan, decided here from facts it gathered: which of
 * the cluster's single-holder jobs fall to this node (the self-heal daemon of a host, the lease
 * sweeper and journal pruner, the scrub), and what a ready node keeps up (its liveness entry and
 * render runner). Pure: no I/O, no clock but the `now` it is given.
 */
export interface DutyFacts {
  self: { name: string; address: string; engine: "gluster" | "dir"; server: boolean; retired: boolean };
  ready: boolean;
  plan: Pick<Plan, "writable" | "discrepancies">;
  answers: MemberAnswer[];
  /** The marked servers' names, as this node last read them. */
  markers: string[];
  /** Monotonic ms. */
  now: number;
  scrub: ScrubState;
  scrubPeriodMs: number;
  /** When GlusterFS's logs were last bounded (monotonic ms); null: not yet. */
  logsBoundedAt: number | null;
  /** Whether writes may be handed to one committer (HFS_FORWARD_WRITES), and whether this node has the peer key. */
  forwarding: { enabled: boolean; hasKey: boolean };
}

/** What the scrub remembers from one tick to the next. */
export interface ScrubState {
  /** When the last scrub started; null: never. */
  at: number | null;
  /** The marker list the scrub last saw (names, sorted, comma-joined). */
  servers: string | undefined;
  /** When a scrub after a change of the server list falls due; null: none pending. */
  afterChangeAt: number | null;
}

export const NO_SCRUB_YET: ScrubState = { at: null, servers: undefined, afterChangeAt: null };

export interface Duties {
  /** Run this node's self-heal daemon (a ready server, unless another on its host does). */
  selfHeal: boolean;
  /** This node sweeps dead leases (and, on GlusterFS, prunes the journal) for the cluster. */
  sweeper: boolean;
  /** Keep the liveness entry and poke the render runner (a ready node whose writes go through). */
  keepAlive: boolean;
  /** Look every entry up once now, and why; null: not now. */
  scrub: string | null;
  scrubState: ScrubState;
  /** Bound GlusterFS's own logs now (each under 10 MiB, gone mounts' logs removed). */
  boundLogs: boolean;
  /** This node takes other members' writes to commit (it says so in its status answer). */
  takesWrites: boolean;
  /** Where this node's clients' writes go: a member's name (this node's own: committed here); null: here. */
  committer: string | null;
}

/** How often GlusterFS's logs are bounded: a brick or mount logging hard grows a file by megabytes a minute. */
export const BOUND_LOGS_EVERY_MS = 60_000;

/** How long after a change of the server list the lookup pass waits, so every node runs the new list. */
export const SCRUB_AFTER_CHANGE_MS = 20_000;

/** Discrepancies that mean some brick is out of reach: a lookup heals only toward the bricks it reaches. */
const NOT_WHOLE: Discrepancy["kind"][] = [
  "server-down",
  "brick-unreachable",
  "no-quorum",
  "mount-dead",
  "mount-mismatch",
];

export function planDuties(f: DutyFacts): Duties {
  const gluster = f.self.engine === "gluster";
  const scrub = planScrub(f);
  const takesWrites = f.forwarding.enabled && f.forwarding.hasKey && f.ready && f.plan.writable;
  return {
    selfHeal:
      gluster &&
      f.self.server &&
      !f.self.retired &&
      f.ready &&
      !hostHasOtherHealer(f.self.name, f.self.address, f.answers, f.markers),
    sweeper: f.ready && sweepsHere(f.self.name, f.answers),
    keepAlive: f.ready && (!gluster || f.plan.writable),
    scrub: gluster && f.ready ? scrub.reason : null,
    scrubState: gluster && f.ready ? scrub.state : f.scrub,
    boundLogs: gluster && (f.logsBoundedAt === null || f.now - f.logsBoundedAt >= BOUND_LOGS_EVERY_MS),
    takesWrites,
    // Without the key nothing can be sealed for another member: everything is committed here.
    committer:
      f.forwarding.enabled && f.forwarding.hasKey
        ? chooseCommitter(
            f.answers.map((a) =>
              a.name === f.self.name ? { ...a, commits: takesWrites, clockSkewMs: 0 } : a,
            ),
          )
        : null,
  };
}

/** A member whose clock is further than this from ours is not handed writes: its seal check would refuse them. */
export const COMMITTER_SKEW_LIMIT_MS = 15_000;

/**
 * The member that commits the cluster's writes: the first, by name, whose daemon answers ready and
 * says it takes writes (a quorate mount and the peer key), with its clock near ours. Every node
 * works it out from the same answers, so they agree but for a tick around a change; two nodes that
 * briefly choose differently only take turns at the write lock, as every node did before.
 */
export function chooseCommitter(answers: MemberAnswer[]): string | null {
  return (
    answers
      .filter(
        (a) =>
          a.answered &&
          a.ready &&
          a.commits === true &&
          a.clockSkewMs !== undefined &&
          Math.abs(a.clockSkewMs) <= COMMITTER_SKEW_LIMIT_MS,
      )
      .map((a) => a.name)
      .sort()[0] ?? null
  );
}

/**
 * A self-heal daemon heals the index of every brick on its own host, so one per host is enough:
 * where several servers share an address (one machine, several state dirs), the first of them by
 * name that answers as a marked server runs it.
 */
export function hostHasOtherHealer(
  self: string,
  address: string,
  answers: MemberAnswer[],
  markers: string[],
): boolean {
  return answers.some(
    (a) =>
      a.name < self && a.answered && a.server && a.brick?.address === address && markers.includes(a.name),
  );
}

/**
 * One sweeper is enough for the cluster: the first member, by name, whose daemon answers ready.
 * When that one goes, the next sees it gone within a tick and takes over; two that briefly both
 * sweep do no harm (a sweeper takes a dead lease's lock before expiring it).
 */
export function sweepsHere(self: string, answers: MemberAnswer[]): boolean {
  const first = answers
    .filter((a) => a.answered && a.ready)
    .map((a) => a.name)
    .sort()[0];
  return first === undefined || first === self;
}

/**
 * A file in GFID split-brain with nothing pending is in no heal index: only a lookup of it answers
 * EIO. So every period the resolver (the first marked server that answers) looks everything up
 * once. Around a change of the server list, a self-heal daemon or mount still on the old list can
 * clear a file's index entry while the file still blames the new server (features/index judges
 * by the xattrs an xattrop names, and the old graph does not name the new server): nothing would
 * heal it and status would count 0. So a lookup pass also runs once every node has had time to
 * run the new list and every brick answers.
 */
function planScrub(f: DutyFacts): { reason: string | null; state: ScrubState } {
  const marked = [...f.markers].sort();
  const servers = marked.join(",");
  let state = f.scrub;
  if (servers !== state.servers) {
    state = {
      ...state,
      servers,
      afterChangeAt: state.servers !== undefined ? f.now + SCRUB_AFTER_CHANGE_MS : state.afterChangeAt,
    };
  }
  const resolver = marked.find((n) => f.answers.some((a) => a.name === n && a.answered && a.server));
  if (resolver !== f.self.name || !f.plan.writable) return { reason: null, state };
  const whole = !f.plan.discrepancies.some((d) => NOT_WHOLE.includes(d.kind));
  const afterChange = state.afterChangeAt !== null && f.now >= state.afterChangeAt && whole;
  if (!afterChange && state.at !== null && f.now - state.at < f.scrubPeriodMs) return { reason: null, state };
  return {
    reason: afterChange
      ? "the server list changed: every entry looked up once, so AFR heals what the heal index lost"
      : "scrub: every entry looked up once, to find any that answers EIO",
    state: { ...state, at: f.now, afterChangeAt: null },
  };
}
