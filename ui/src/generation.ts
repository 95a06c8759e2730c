import { ApiError, streamEvents } from "./api.js";
import { h } from "./dom.js";
import type { OutputView, TokenLogprob } from "./output.js";

/**
 * One streamed request, shared by every mode: it feeds the output view as the chunks arrive and
 * measures what the message's stats line shows. A mode says where to POST, what to send and how
 * to read a chunk (`read`), and, for an API that streams otherwise than in chat-completion chunks,
 * its `StreamFormat`.
 */

/** How an API streams: what a streamed request adds to its body, where its usage is, how it ends. */
export interface StreamFormat {
  readonly streamFields: Record<string, unknown>;
  /** The output token count, from the event that reports the request's usage. */
  outputTokens(event: Record<string, unknown>): number | undefined;
  /** The events after which the stream is complete; none: it ends with `data: [DONE]`. */
  readonly lastEvents?: readonly string[];
}

/** Chat completions and completions: chunks, the usage in a last chunk asked for, then [DONE]. */
export const CHUNK_STREAM: StreamFormat = {
  streamFields: { stream: true, stream_options: { include_usage: true } },
  outputTokens: (event) =>
    (event.usage as { completion_tokens: number } | null | undefined)?.completion_tokens,
};

/**
 * The Responses API: named events, the text in `response.output_text.delta`, the response with
 * its usage in the last one (`response.completed` or `response.incomplete`), and no [DONE].
 */
export const RESPONSE_STREAM: StreamFormat = {
  streamFields: { stream: true },
  outputTokens: (event) =>
    (event.response as { usage?: { output_tokens: number } | null } | undefined)?.usage?.output_tokens,
  lastEvents: ["response.completed", "response.incomplete", "response.failed"],
};

export interface Piece {
  text: string;
  tokens?: TokenLogprob[];
  finishReason?: string | null;
}

export interface Outcome {
  /** Set when the request failed; the output keeps what had arrived. */
  error?: ApiError;
  stopped: boolean;
  finishReason?: string | null;
  tokens: number;
  timeToFirstTokenMs?: number;
  tokensPerSecond?: number;
}

export async function generate(
  path: string,
  body: Record<string, unknown>,
  read: (event: Record<string, unknown>, name?: string) => Piece | undefined,
  output: OutputView,
  signal: AbortSignal,
  format: StreamFormat = CHUNK_STREAM,
): Promise<Outcome> {
  const sent = performance.now();
  let first: number | undefined;
  let last = sent;
  let pieces = 0;
  let usageTokens: number | undefined;
  let finishReason: string | null | undefined;
  const outcome = (extra: Partial<Outcome>): Outcome => {
    const tokens = usageTokens ?? pieces;
    return {
      stopped: false,
      finishReason,
      tokens,
      timeToFirstTokenMs: first === undefined ? undefined : first - sent,
      // The decode rate: tokens after the first over the time they took.
      tokensPerSecond:
        first !== undefined && tokens > 1 && last > first
          ? ((tokens - 1) * 1000) / (last - first)
          : undefined,
      ...extra,
    };
  };
  try {
    await streamEvents(
      path,
      { ...body, ...format.streamFields },
      signal,
      (event, name) => {
        usageTokens = format.outputTokens(event) ?? usageTokens;
        const piece = read(event, name);
        if (!piece) return;
        if (piece.finishReason) finishReason = piece.finishReason;
        // A token's logprob may come before its text (the server holds back a trailing newline).
        if (piece.text === "" && !piece.tokens?.length) return;
        last = performance.now();
        first ??= last;
        pieces += piece.tokens?.length ?? 1;
        output.push(piece.text, piece.tokens);
      },
      format.lastEvents,
    );
    output.flush();
    return outcome({});
  } catch (error) {
    output.flush();
    if (signal.aborted) return outcome({ stopped: true });
    if (error instanceof ApiError) return outcome({ error });
    return outcome({ error: new ApiError(String((error as Error).message ?? error), "stream") });
  }
}

/** The stats line under a message: tokens, time to first token, tokens per second, how it ended. */
export function statsLine(outcome: Outcome): HTMLElement {
  const parts = [`${outcome.tokens} tokens`];
  if (outcome.timeToFirstTokenMs !== undefined)
    parts.push(`TTFT ${Math.round(outcome.timeToFirstTokenMs)} ms`);
  if (outcome.tokensPerSecond !== undefined) parts.push(`${outcome.tokensPerSecond.toFixed(1)} tok/s`);
  if (outcome.stopped) parts.push("stopped");
  else if (outcome.finishReason) parts.push(`finish: ${outcome.finishReason}`);
  return h("p", { class: "stats" }, parts.join(" · "));
}

/** The outcome of a request that failed before or while streaming: every mode reports it alike. */
function failedOutcome(error: unknown): Outcome {
  return {
    stopped: false,
    tokens: 0,
    error: error instanceof ApiError ? error : new ApiError((error as Error).message, "http"),
  };
}

/** An error notice in the conversation, announced to screen readers. */
export function errorNotice(error: ApiError): HTMLElement {
  return h("p", { class: "error", role: "alert" }, error.advice);
}

/**
 * A mode's request, one at a time, with the two buttons around it: the form's submit button
 * (disabled while a request runs) and Stop (enabled only then; Escape and leaving the mode stop
 * it too). `changed` runs as a request starts and as it ends, for a mode's other buttons.
 */
export class RequestSlot {
  readonly startButton: HTMLButtonElement;
  readonly stopButton: HTMLButtonElement;
  private controller?: AbortController;

  constructor(
    startLabel: string,
    private readonly changed: () => void = () => {},
  ) {
    this.startButton = h("button", { type: "submit", class: "primary" }, startLabel);
    this.stopButton = h("button", { type: "button", disabled: true, onclick: () => this.stop() }, "Stop");
  }

  get busy(): boolean {
    return this.controller !== undefined;
  }

  stop(): void {
    this.controller?.abort();
  }

  /** What `send` streamed (a failure before the stream began, folded in as every mode shows it). */
  async run(send: (signal: AbortSignal) => Promise<Outcome>): Promise<Outcome> {
    const controller = new AbortController();
    this.controller = controller;
    this.buttonsChanged();
    try {
      return await send(controller.signal);
    } catch (error) {
      return failedOutcome(error);
    } finally {
      this.controller = undefined;
      this.buttonsChanged();
    }
  }

  private buttonsChanged(): void {
    this.startButton.disabled = this.busy;
    this.stopButton.disabled = !this.busy;
    this.changed();
  }
}
