import * as v from "valibot";
import { isAddress, isNodeName } from "../node/names.js";
import type { StatusReport } from "./wire.js";

/*
 * What a peer's GET /v1/status must hold before the planner believes it. A peer's
 * answer decides what this node mounts and serves, so an answer from something that
 * is not an hfs-config daemon (another service on the port), or from a damaged one,
 * counts as no answer. Fields the planner does not read are let through unchecked,
 * so daemons one version apart still understand each other.
 */
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const nullable = <T extends v.GenericSchema>(s: T) => v.nullable(s);
const name = v.pipe(v.string(), v.check(isNodeName, "a node name"));

const statusReport = v.looseObject({
  name,
  address: v.string(),
  server: v.boolean(),
  retired: v.boolean(),
  ready: v.boolean(),
  brick: nullable(
    v.object({
      address: v.pipe(v.string(), v.check(isAddress, "an address")),
      port: v.pipe(count, v.minValue(1), v.maxValue(65535)),
    }),
  ),
  mounted: v.array(name),
  generation: nullable(count),
  volumeId: nullable(v.pipe(v.string(), v.regex(/^[0-9a-f-]{36}$/, "a volume id"))),
  brickGeneration: nullable(count),
  tombstones: v.optional(nullable(v.array(name))),
  creatingVolume: v.optional(v.boolean()),
  suspectsSplitBrain: v.optional(v.boolean()),
  splitBrainSearchedAt: v.optional(nullable(count)),
  commits: v.optional(v.boolean()),
  clock: v.optional(count),
});

export type ReportCheck = { ok: true; report: StatusReport } | { ok: false; problem: string };

/** A peer's answer as a StatusReport, or what is wrong with it (the first field). */
export function checkStatusReport(raw: unknown): ReportCheck {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { ok: false, problem: "the answer: expected an object" };
  const r = v.safeParse(statusReport, raw);
  if (r.success) return { ok: true, report: r.output as unknown as StatusReport };
  const issue = r.issues[0];
  const where = v.getDotPath(issue) ?? "the answer";
  if (issue.input === undefined) return { ok: false, problem: `${where}: missing` };
  return { ok: false, problem: `${where}: expected ${issue.expected}, got ${issue.received}` };
}
