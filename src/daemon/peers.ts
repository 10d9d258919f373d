import { request } from "node:http";
import { isIP } from "node:net";
import type { Member } from "../members/members.js";
import type { MemberAnswer } from "../plan/types.js";
import { checkStatusReport } from "./status-schema.js";
import type { StatusReport } from "./wire.js";

export type StatusFetcher = (member: Member, timeoutMs: number) => Promise<StatusReport | undefined>;

/**
 * GET http://address:port/v1/status with a hard timeout; undefined when the member
 * does not answer, or answers something that is not a status report (`onInvalid` hears what).
 */
export function httpStatusFetcher(
  defaultPort: number,
  onInvalid: (member: Member, problem: string) => void = () => {},
  localAddress?: string,
): StatusFetcher {
  return (member, timeoutMs) =>
    new Promise((resolve) => {
      const req = request(
        {
          host: member.address,
          port: member.statusPort ?? defaultPort,
          path: "/v1/status",
          method: "GET",
          timeout: timeoutMs,
          // From this node's own address: peers answer status to members' addresses only, and a
          // host with several the kernel might pick another as the source.
          ...(localAddress !== undefined && isIP(localAddress) !== 0 ? { localAddress } : {}),
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c) => {
            body += c;
            if (body.length > 1_000_000) req.destroy();
          });
          res.on("end", () => {
            if (res.statusCode === 403) {
              onInvalid(
                member,
                "it refused this node's status request (403): is this node's address among its members?",
              );
            }
            if (res.statusCode !== 200) return resolve(undefined);
            let raw: unknown;
            try {
              raw = JSON.parse(body);
            } catch {
              onInvalid(member, "the answer is not JSON");
              return resolve(undefined);
            }
            const checked = checkStatusReport(raw);
            if (!checked.ok) onInvalid(member, checked.problem);
            resolve(checked.ok ? checked.report : undefined);
          });
          res.on("error", () => resolve(undefined));
        },
      );
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(undefined));
      req.end();
    });
}

/** A member's answer as the planners read it; `now` (our wall clock when it arrived) dates its clock. */
export function toAnswer(name: string, report: StatusReport | undefined, now?: number): MemberAnswer {
  if (!report || report.name !== name) return { name, answered: false };
  return {
    name,
    answered: true,
    server: report.server,
    retired: report.retired,
    ready: report.ready,
    suspectsSplitBrain: report.suspectsSplitBrain === true,
    splitBrainSearchedAt:
      typeof report.splitBrainSearchedAt === "number" ? report.splitBrainSearchedAt : null,
    brick: report.brick,
    volumeId: report.volumeId,
    brickGeneration: report.brickGeneration,
    tombstones: report.tombstones ?? undefined,
    creatingVolume: report.creatingVolume === true,
    commits: report.commits === true,
    ...(typeof report.clock === "number" && now !== undefined ? { clockSkewMs: report.clock - now } : {}),
  };
}
