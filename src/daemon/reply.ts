import type { ServerResponse } from "node:http";
import { HfsError } from "../errors.js";
import { toWire } from "./control-client.js";

export function send(res: ServerResponse, code: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof HfsError) {
    const http =
      err.exitCode === 2
        ? 400
        : err.exitCode === 3
          ? 404
          : err.exitCode === 4
            ? 409
            : err.exitCode === 5
              ? 503
              : 500;
    send(res, http, { error: toWire(err) });
    return;
  }
  send(res, 500, {
    error: { code: "E_INTERNAL", message: (err as Error)?.message ?? String(err), exitCode: 1 },
  });
}
