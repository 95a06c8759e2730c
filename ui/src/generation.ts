import { ApiError, streamEvents } from "./api.js";
import { h } from "./dom.js";
import type { OutputView, TokenLogprob } from "./output.js";

/**
 * One streamed request, shared by every mode: it feeds the output view as the chunks arrive and
 * measures what the message's stats line shows. A mode says where to POST, what to send and how
 * to read a chunk (`read`).
 */

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
  read: (event: Record<string, unknown>) => Piece | undefined,
  output: OutputView,
  signal: AbortSignal,
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
      { ...body, stream: true, stream_options: { include_usage: true } },
      signal,
      (event) => {
        const usage = event.usage as { completion_tokens: number } | null | undefined;
        if (usage) usageTokens = usage.completion_tokens;
        const piece = read(event);
        if (!piece) return;
        if (piece.finishReason) finishReason = piece.finishReason;
        // A token's logprob may come before its text (the server holds back a trailing newline).
        if (piece.text === "" && !piece.tokens?.length) return;
        last = performance.now();
        first ??= last;
        pieces += piece.tokens?.length ?? 1;
        output.push(piece.text, piece.tokens);
      },
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

/** An error notice in the conversation, announced to screen readers. */
/** The outcome of a request that failed before or while streaming: every mode reports it alike. */
export function failedOutcome(error: unknown): Outcome {
  return {
    stopped: false,
    tokens: 0,
    error: error instanceof ApiError ? error : new ApiError((error as Error).message, "http"),
  };
}

export function errorNotice(error: ApiError): HTMLElement {
  return h("p", { class: "error", role: "alert" }, error.advice);
}
