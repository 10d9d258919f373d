import { InvalidInputError } from "../errors.js";

const NODE_NAME = /^[a-z0-9][a-z0-9-]*$/;

export function isNodeName(raw: string): boolean {
  return NODE_NAME.test(raw) && raw.length <= 63;
}

export function parseNodeName(raw: string, what = "node name"): string {
  if (!isNodeName(raw)) {
    throw new InvalidInputError(
      "E_BAD_NAME",
      `invalid ${what} ${JSON.stringify(raw)}: use lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters (e.g. n1, store-a).`,
    );
  }
  return raw;
}

export function parsePort(raw: string | number, what: string): number {
  const n = typeof raw === "number" ? raw : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidInputError(
      "E_BAD_PORT",
      `invalid ${what} ${JSON.stringify(String(raw))}: give a TCP port from 1 to 65535.`,
    );
  }
  return n;
}

/** An IPv4 address, a bracket-less IPv6 address or a hostname. */
export function isAddress(raw: string): boolean {
  const ok =
    /^(\d{1,3})(\.\d{1,3}){3}$/.test(raw) ||
    (/^[0-9a-fA-F:]+$/.test(raw) && raw.includes(":")) ||
    /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(raw);
  return ok && raw.length <= 253;
}

export function parseAddress(raw: string, what = "address"): string {
  if (!isAddress(raw)) {
    throw new InvalidInputError(
      "E_BAD_ADDRESS",
      `invalid ${what} ${JSON.stringify(raw)}: give an IPv4 or IPv6 address or a hostname (e.g. 10.0.0.5, node1.example).`,
    );
  }
  return raw;
}
