/** A certificate this close to its end is a discrepancy: status says degraded and names it. */
export const CERT_WARN_MS = 30 * 86_400_000;

/**
 * TLS stops when the certificate expires: every handshake with it fails, and the node is cut off.
 * Said a month ahead, with the fix (pure).
 */
export function certExpiryDiscrepancies(
  notAfter: number | undefined,
  now: number,
  node: string,
): { kind: string; detail: string }[] {
  if (notAfter === undefined) return [];
  const left = notAfter - now;
  if (left > CERT_WARN_MS) return [];
  const when = new Date(notAfter).toISOString();
  const fix = `issue a new one ('hfs-config certs --out CADIR --renew ${node}'), run 'hfs-config setup --force --tls-dir DIR' here and restart the daemon`;
  return [
    {
      kind: "tls-cert-expiring",
      detail:
        left > 0
          ? `this node's TLS certificate expires ${when} (in ${Math.ceil(left / 86_400_000)} days): ${fix}`
          : `this node's TLS certificate expired ${when} and the bricks refuse it: ${fix}`,
    },
  ];
}
