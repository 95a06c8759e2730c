import type { TokenLogprobs } from "../engine/sampling/index.js";
import type { RecurrentState } from "../engine/state.js";
import type { FinishReason } from "../generation/batch-generator.js";
import type { PromptTokenLogprobs } from "../generation/prompt-scoring.js";

export interface ChoiceEvent {
  /** The choice's place in the request (prompt index x n + choice index, as OpenAI numbers them). */
  readonly index: number;
  readonly text: string;
  /** null unless asked for, and for a stop token (its text is not part of the output). */
  readonly logprobs: TokenLogprobs | null;
  readonly finishReason: FinishReason | null;
  /** With the last event of a choice whose spec asked for it (keepFinalState). */
  readonly finalState?: RecurrentState;
  /** The token sampled (absent from the event that ends a choice at its deadline). */
  readonly token?: number;
  /**
   * A scored prompt's positions, all of them (position 0 null), in one event before the choice's
   * first token (specs with promptLogprobs).
   */
  readonly promptLogprobs?: readonly (PromptTokenLogprobs | null)[];
  /** The logprobs of the stop token that ended the choice, when asked for (not part of `logprobs`: its text is not output). */
  readonly stopLogprobs?: TokenLogprobs;
}

/**
 * Back-pressure from the consumer to the worker: a choice whose consumer (for a stream, the
 * client's socket) has PAUSE_BACKLOG events it has not taken is paused at its worker, and resumed
 * once the backlog is down to RESUME_BACKLOG. So a client that reads slower than the model writes
 * costs at most a few dozen events of memory, however long its generation, and a paused sequence
 * takes no step time from the others.
 */
export const PAUSE_BACKLOG = 64;
export const RESUME_BACKLOG = 16;

/** What the queue asks of a choice's sequence when its consumer falls behind or catches up. */
export interface ChoiceFlow {
  pause(): void;
  resume(): void;
}

/**
 * One request's choice events in arrival order, consumed once with `for await`. The loop ends
 * when every choice has ended, or throws the failure after the events that came before it.
 */
export class ChoiceEventQueue implements AsyncIterable<ChoiceEvent> {
  private readonly events: ChoiceEvent[] = [];
  private readonly backlog: number[];
  private readonly paused: boolean[];
  private wake: (() => void) | undefined;
  private ended = false;
  private failure: Error | undefined;

  constructor(private readonly flows: readonly ChoiceFlow[]) {
    this.backlog = flows.map(() => 0);
    this.paused = flows.map(() => false);
  }

  /** `running`: the choice may still be paused (it has not ended). */
  push(event: ChoiceEvent, running: boolean): void {
    this.events.push(event);
    const i = event.index;
    if (++this.backlog[i] >= PAUSE_BACKLOG && !this.paused[i] && running) {
      this.paused[i] = true;
      this.flows[i].pause();
    }
    this.wakeConsumer();
  }

  /** No more events will come. */
  end(): void {
    this.ended = true;
    this.wakeConsumer();
  }

  /** The consumer's loop throws `error` once it has taken the events before it. */
  fail(error: Error): void {
    this.failure = error;
    this.wakeConsumer();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChoiceEvent> {
    for (;;) {
      const event = this.events.shift();
      if (event) {
        this.taken(event.index);
        yield event;
      } else if (this.failure) throw this.failure;
      else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private taken(index: number): void {
    if (--this.backlog[index] <= RESUME_BACKLOG && this.paused[index]) {
      this.paused[index] = false;
      this.flows[index].resume();
    }
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
