import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * Server-sent events read back by eventsource-parser, for the load clients and the tests: each
 * event as its name (`event:`, undefined for a plain `data:` event such as a chat chunk) and its
 * data. Comments (the keep-alive) are not events. A line the format does not allow throws: a
 * client that skipped it would hide a broken stream. The exact bytes of a stream are the business
 * of test/server/sse.test.ts alone.
 */

export interface SseEvent {
  /** The `event:` line's name; undefined without one. */
  readonly event: string | undefined;
  readonly data: string;
}

function parser(onEvent: (event: SseEvent) => void) {
  return createParser({
    onEvent: (message: EventSourceMessage) => onEvent({ event: message.event, data: message.data }),
    onError: (error) => {
      throw error;
    },
  });
}

/**
 * eventsource-parser rescans what it holds on every feed, so one feed of a whole stream is
 * quadratic in its length (a 45 MB stream took 108 s); fed as the network would, in pieces, it is
 * linear (1.2 s against 33 ms for 7 MB).
 */
const FEED_CHARACTERS = 65_536;

/** The events of a whole stream's text; an event cut off before its blank line is left out. */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  const stream = parser((event) => events.push(event));
  for (let at = 0; at < text.length; at += FEED_CHARACTERS) stream.feed(text.slice(at, at + FEED_CHARACTERS));
  return events;
}

/** The events of a stream as its bytes arrive (a fetch or undici response body). */
export async function* sseEvents(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  const arrived: SseEvent[] = [];
  const events = parser((event) => arrived.push(event));
  for await (const bytes of body) {
    events.feed(typeof bytes === "string" ? bytes : decoder.decode(bytes, { stream: true }));
    yield* arrived.splice(0);
  }
}
