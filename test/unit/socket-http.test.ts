import { describe, expect, it } from "vitest";
import { parseReply } from "../../src/daemon/socket-http.js";

const raw = (s: string) => Buffer.from(s, "latin1");

describe("parseReply: an HTTP answer read off a unix socket", () => {
  it.each([
    ["content-length", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", 200, "{}"],
    [
      "content-length shorter than what came",
      "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}xx",
      404,
      "{}",
    ],
    [
      "no length: the body runs to the close",
      'HTTP/1.0 503 x\r\nconnection: close\r\n\r\n{"a":1}',
      503,
      '{"a":1}',
    ],
    [
      "chunked",
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n',
      200,
      '{"a":1}',
    ],
    ["utf-8 in the body", "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n\xc3\xa9\xc3\xa9", 200, "éé"],
  ])("%s", (_what, text, status, body) => {
    expect(parseReply(raw(text))).toEqual({ status, body });
  });

  it.each([
    ["headers cut off", "HTTP/1.1 200 OK\r\ncontent-len", /inside its headers/],
    ["body cut off", "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}", /cut off/],
    ["a chunk cut off", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n9\r\n{}", /cut off/],
    ["not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", /not an HTTP answer/],
  ])("refuses %s", (_what, text, why) => {
    expect(() => parseReply(raw(text))).toThrow(why);
  });
});
