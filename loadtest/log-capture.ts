import { Writable } from "node:stream";

/** A pino destination that keeps each log line, parsed, so that tests can read what was logged. */
export function logCapture(): { readonly lines: Record<string, unknown>[]; readonly destination: Writable } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}
