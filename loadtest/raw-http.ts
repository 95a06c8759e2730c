import { connect, type Socket } from "node:net";

/**
 * HTTP/1.1 over a bare socket, for the clients an HTTP library would not let us be: one that
 * sends a byte at a time, stops half-way, never reads, or pipelines.
 */

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once("error", reject);
  });
}

export function requestBytes(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): string {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  const lines = [`${method} ${path} HTTP/1.1`, "Host: localhost"];
  if (body !== undefined)
    lines.push("Content-Type: application/json", `Content-Length: ${Buffer.byteLength(text)}`);
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n${text}`;
}

/**
 * Parses as many whole responses as `bytes` holds (Content-Length or chunked bodies); the rest is
 * left for more bytes to complete.
 */
export function parseResponses(bytes: Buffer): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = bytes.indexOf("\r\n\r\n", at);
    if (headEnd < 0) break;
    const [statusLine, ...headerLines] = bytes.subarray(at, headEnd).toString("latin1").split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (headers["transfer-encoding"] === "chunked") {
      const parts: Buffer[] = [];
      let cursor = bodyStart;
      let complete = false;
      for (;;) {
        const sizeEnd = bytes.indexOf("\r\n", cursor);
        if (sizeEnd < 0) break;
        const size = Number.parseInt(bytes.subarray(cursor, sizeEnd).toString("latin1"), 16);
        if (bytes.length < sizeEnd + 2 + size + 2) break;
        parts.push(bytes.subarray(sizeEnd + 2, sizeEnd + 2 + size));
        cursor = sizeEnd + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = cursor;
    } else {
      const length = Number(headers["content-length"] ?? 0);
      if (bytes.length < bodyStart + length) break;
      body = bytes.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    responses.push({ status: Number(statusLine.split(" ")[1]), headers, body: body.toString("utf8") });
    at = bodyStart;
  }
  return { responses, rest: bytes.subarray(at) };
}

/** Collects what a socket receives until it closes (or `timeoutMs`), with the time it closed. */
export function readUntilClosed(
  socket: Socket,
  timeoutMs: number,
): Promise<{ text: string; closedAfterMs: number | null }> {
  const started = performance.now();
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("utf8"), closedAfterMs: null });
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString("utf8"), closedAfterMs: performance.now() - started });
    });
  });
}
