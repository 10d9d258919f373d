import { describe, expect, it } from "vitest";
import { certExpiryDiscrepancies } from "../../src/daemon/cert-expiry.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);

describe("a TLS certificate near its end is named a month ahead", () => {
  it.each([
    [undefined, []],
    [NOW + 31 * DAY, []],
  ])("not yet: %s", (notAfter, want) => {
    expect(certExpiryDiscrepancies(notAfter, NOW, "n1")).toEqual(want);
  });
  it("within 30 days: expiring, when, and the fix", () => {
    const [d] = certExpiryDiscrepancies(NOW + 12 * DAY + 1, NOW, "n3");
    expect(d?.kind).toBe("tls-cert-expiring");
    expect(d?.detail).toMatch(
      /expires 2026-12-13T00:00:00\.001Z \(in 13 days\).*certs --out CADIR --renew n3/,
    );
  });
  it("past its end: expired, and the bricks refuse it", () => {
    const [d] = certExpiryDiscrepancies(NOW - DAY, NOW, "n1");
    expect(d?.detail).toMatch(/expired 2026-11-30T00:00:00\.000Z and the bricks refuse it/);
  });
});
