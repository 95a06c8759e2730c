import { describe, expect, it } from "vitest";
import { parseSse, sseEvents } from "../../loadtest/sse-events.js";

const STREAM =
  'event: response.created\ndata: {"n":1}\n\n: keep-alive\n\ndata: {"text":"é"}\n\ndata: [DONE]\n\n';
const EVENTS = [
  { event: "response.created", data: '{"n":1}' },
  { event: undefined, data: '{"text":"é"}' },
  { event: undefined, data: "[DONE]" },
];

describe("the SSE reader of the tests and load clients", () => {
  it("yields named and plain events, and skips comments", () => {
    expect(parseSse(STREAM)).toEqual(EVENTS);
  });

  it("reads the same events from bytes split anywhere, even inside a character", async () => {
    const bytes = new TextEncoder().encode(STREAM);
    for (const size of [1, 2, 3, 7]) {
      const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
        bytes.subarray(i * size, (i + 1) * size),
      );
      const events = [];
      for await (const event of sseEvents(chunks as unknown as AsyncIterable<Uint8Array>)) events.push(event);
      expect(events).toEqual(EVENTS);
    }
  });

  it("leaves out an event cut off before its blank line, and throws at a line the format does not allow", () => {
    expect(parseSse('data: {"n":1}\n\ndata: {"n":')).toEqual([{ event: undefined, data: '{"n":1}' }]);
    expect(() => parseSse("dat: x\n\n")).toThrow();
  });
});
