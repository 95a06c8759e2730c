import type { SequenceSpec } from "../generation/sequence-spec.js";
import type { RequestFinishReason } from "../server/metrics.js";
import {
  type DecodeTiming,
  epochMs,
  type PrefillTiming,
  type SequenceTiming,
} from "../workers/sequence-timing.js";

/**
 * A traced request's timeline, kept by its RequestRun: when it was admitted, when each choice's
 * tokens arrived and ended, and what its worker reported about prefill and decode. Tracing turns
 * it into spans once the request is over; an untraced run keeps none (`GenerationRequest.timed`).
 * All times are Unix epoch milliseconds, the clock the workers' timings use too.
 */

export interface ChoiceTimings {
  /** From the worker, with the first token. */
  prefill?: PrefillTiming;
  /** From the worker, with the last token (absent when the choice was cancelled or failed). */
  decode?: DecodeTiming;
  /** Tokens that reached the main thread. */
  tokens: number;
  firstTokenAt: number | null;
  lastTokenAt: number | null;
  endedAt: number | null;
  finishReason: RequestFinishReason | null;
}

export class RunTimings {
  readonly admittedAt = epochMs();
  firstTokenAt: number | null = null;
  /** When the last choice ended. */
  finishedAt: number | null = null;
  readonly choices: ChoiceTimings[];
  private unfinished: number;

  constructor(
    /** The run's sequences, in choice order: what was asked (sampling, limits) for the trace. */
    readonly sequences: readonly SequenceSpec[],
  ) {
    this.unfinished = sequences.length;
    this.choices = sequences.map(() => ({
      tokens: 0,
      firstTokenAt: null,
      lastTokenAt: null,
      endedAt: null,
      finishReason: null,
    }));
  }

  token(index: number, timing: SequenceTiming | undefined): void {
    const now = epochMs();
    const choice = this.choices[index];
    this.firstTokenAt ??= now;
    choice.firstTokenAt ??= now;
    choice.lastTokenAt = now;
    choice.tokens++;
    if (timing?.prefill) choice.prefill = timing.prefill;
    if (timing?.decode) choice.decode = timing.decode;
  }

  ended(index: number, reason: RequestFinishReason): void {
    const choice = this.choices[index];
    if (choice.endedAt !== null) return;
    choice.endedAt = epochMs();
    choice.finishReason = reason;
    if (--this.unfinished === 0) this.finishedAt = choice.endedAt;
  }
}
