import type { OutgoingHttpHeader, ServerResponse } from "node:http";

/**
 * Server-sent events as OpenAI's clients parse them: `data: {json}\n\n` per chunk (with an
 * `event: name` line first where the API names its events, as the Responses API does), then
 * `data: [DONE]\n\n` where the API ends with it; an error after the stream started is one
 * `data: {"error": {...}}` event, after which the stream closes without [DONE]. A comment line keeps idle connections (and the
 * proxies between) from timing out.
 *
 * Back-pressure: a write the socket cannot take yet makes `send` wait for 'drain', so a slow
 * reader holds up its own stream instead of growing a buffer here. A client that takes nothing
 * for SSE_STALL_TIMEOUT_MS is dropped, as nginx's send_timeout does: until then the generation
 * behind the stream runs on and its tokens wait in memory, so without a limit a client that keeps
 * the connection open but never reads would hold them (and its slot) for ever.
 */

export const SSE_KEEP_ALIVE_MS = 15_000;
export const SSE_STALL_TIMEOUT_MS = 30_000;

const KEEP_ALIVE_COMMENT = ": keep-alive\n\n";

export class SseStream {
  private readonly keepAlive: NodeJS.Timeout;
  private finished = false;

  constructor(
    private readonly response: ServerResponse,
    headers: Readonly<Record<string, OutgoingHttpHeader | undefined>>,
    keepAliveMs = SSE_KEEP_ALIVE_MS,
    private readonly stallTimeoutMs = SSE_STALL_TIMEOUT_MS,
  ) {
    response.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      // Tells nginx not to buffer the stream.
      "x-accel-buffering": "no",
    });
    response.flushHeaders();
    this.keepAlive = setInterval(() => {
      // Skipped while the socket is backed up: the reader is alive, just slow.
      if (this.open && !response.writableNeedDrain) response.write(KEEP_ALIVE_COMMENT);
    }, keepAliveMs);
    response.on("close", () => clearInterval(this.keepAlive));
  }

  /** False once the client has gone or the stream was ended. */
  get open(): boolean {
    return !this.finished && !this.response.destroyed;
  }

  /**
   * One event: `data` already serialised (each endpoint serialises its chunks against their
   * schema), under an `event:` name when given. Resolves when the socket can take more.
   */
  send(data: string, event?: string): Promise<void> {
    return this.write(event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`);
  }

  /** Ends the stream, after OpenAI's `data: [DONE]` unless `withDoneMarker` is false. */
  async done(withDoneMarker = true): Promise<void> {
    if (withDoneMarker) await this.write("data: [DONE]\n\n");
    this.end();
  }

  async fail(error: unknown, event?: string): Promise<void> {
    await this.send(JSON.stringify(error), event);
    this.end();
  }

  private end(): void {
    this.finished = true;
    clearInterval(this.keepAlive);
    if (!this.response.destroyed) this.response.end();
  }

  private write(text: string): Promise<void> {
    if (!this.open || this.response.write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      // Destroying the response closes it, which settles this wait and tells the run its client left.
      const stalled = setTimeout(() => this.response.destroy(), this.stallTimeoutMs);
      const settle = () => {
        clearTimeout(stalled);
        this.response.off("drain", settle);
        this.response.off("close", settle);
        resolve();
      };
      this.response.on("drain", settle);
      this.response.on("close", settle);
    });
  }
}
