import type { FastifyBaseLogger } from "fastify";
import type { FinishReason } from "../generation/batch-generator.js";
import {
  type PromptTokenLogprobs,
  promptTokenLogprobs,
  withAlternatives,
} from "../generation/prompt-scoring.js";
import type { SequenceSpec } from "../generation/sequence-spec.js";
import type { RequestFinishReason, ServerMetrics } from "../server/metrics.js";
import type { PromptScoresMessage, TokenMessage } from "../workers/messages.js";
import type { SlotLease } from "./admission.js";
import { type ChoiceEvent, ChoiceEventQueue } from "./choice-events.js";
import { DeliveredSlots } from "./delivered-slots.js";
import type { CachedPrefix, PrefixPlan, PrefixStateCache, ScoredPrefix } from "./prefix-cache.js";
import { RunTimings } from "./run-timings.js";
import type { SequenceHandle, WorkerPool } from "./worker-pool.js";

/**
 * One request's sequences, in OpenAI's choice order (prompt-major: prompt p's choice i is at
 * p x n + i). The choices of one prompt share its ids array (`choicesOf`), which is how the run
 * counts each prompt's tokens and prefix-cache work once.
 */
export interface GenerationRequest {
  /**
   * A state of the sequences' prompt that the caller holds (a stored conversation's): it has
   * consumed promptIds[0 .. tokens). Used when it covers more of the prompt than the prefix cache.
   */
  readonly startState?: { readonly tokens: number; readonly values: Float32Array };
  readonly sequences: readonly SequenceSpec[];
  /**
   * Sees the state after a reply of a spec that keeps its final state, as it goes into the prefix
   * cache (`values` is the cache's copy: read, never change): the chat endpoint stores it.
   */
  readonly onReplyState?: (consumed: readonly number[], values: Float32Array) => void;
  /** Keep the run's timeline, worker timings included, for its trace (RequestRun.timings). */
  readonly timed?: boolean;
}

/** The per-request figures for the log line and the usage object. */
export interface RunSummary {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly queueSeconds: number;
  readonly timeToFirstTokenSeconds: number | null;
  readonly totalSeconds: number;
  readonly finishReasons: readonly (RequestFinishReason | null)[];
}

export interface RunContext {
  readonly pool: WorkerPool;
  readonly prefixCache: PrefixStateCache;
  readonly metrics: ServerMetrics;
  readonly log: FastifyBaseLogger;
  readonly deadlineMs: number;
  /** Maps a worker's failure to what the consumer's loop throws. */
  readonly failure: (error: Error) => Error;
}

export const seconds = (fromMs: number, toMs = performance.now()) => (toMs - fromMs) / 1000;

interface Choice {
  readonly index: number;
  handle?: SequenceHandle;
  /** A scored prompt's positions so far (position 0 null); undefined when not scored. */
  promptScores?: (PromptTokenLogprobs | null)[];
  finishReason: RequestFinishReason | null;
  lastTokenAt: number | null;
  /** The tokens generated so far, kept for specs that keep their final state. */
  generated?: number[];
}

/**
 * One admitted request: its sequences running on the workers, their events (ChoiceEventQueue),
 * its deadline, timings and usage. Consumed with `for await`; the loop throws if the request
 * fails (a worker died, shutdown), after the events that came before the failure. Its slots come
 * back as DeliveredSlots says.
 */
export class RequestRun implements AsyncIterable<ChoiceEvent> {
  readonly choiceCount: number;
  readonly promptTokens: number;
  cachedTokens = 0;
  completionTokens = 0;
  private readonly choices: Choice[];
  private readonly events: ChoiceEventQueue;
  private readonly slots: DeliveredSlots;
  private unfinished: number;
  private failed = false;
  private firstTokenAt: number | null = null;
  private readonly admittedAt = performance.now();
  private readonly deadline: NodeJS.Timeout;
  /** The timeline of a timed request, for its trace; undefined otherwise. */
  readonly timings: RunTimings | undefined;
  private resolveFinished!: () => void;
  /** Resolves when every choice has ended (finished, cancelled or failed). */
  readonly finished = new Promise<void>((resolve) => {
    this.resolveFinished = resolve;
  });

  constructor(
    private readonly request: GenerationRequest,
    private readonly arrivedAt: number,
    lease: SlotLease,
    private readonly context: RunContext,
  ) {
    const { sequences } = request;
    this.choiceCount = sequences.length;
    this.unfinished = sequences.length;
    this.promptTokens = [...new Set(sequences.map((spec) => spec.promptIds))].reduce(
      (sum, ids) => sum + ids.length,
      0,
    );
    this.choices = sequences.map((_, index) => ({ index, finishReason: null, lastTokenAt: null }));
    this.events = new ChoiceEventQueue(
      this.choices.map((choice) => ({
        pause: () => choice.handle?.pause(),
        resume: () => choice.handle?.resume(),
      })),
    );
    this.slots = new DeliveredSlots(lease);
    this.timings = request.timed ? new RunTimings(sequences) : undefined;
    const remaining = context.deadlineMs - (performance.now() - arrivedAt);
    this.deadline = setTimeout(() => this.endAtDeadline(), Math.max(0, remaining));
    this.startSequences();
  }

  get summary(): RunSummary {
    return {
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      cachedTokens: this.cachedTokens,
      queueSeconds: seconds(this.arrivedAt, this.admittedAt),
      timeToFirstTokenSeconds: this.firstTokenAt === null ? null : seconds(this.arrivedAt, this.firstTokenAt),
      totalSeconds: seconds(this.arrivedAt),
      finishReasons: this.choices.map((choice) => choice.finishReason),
    };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChoiceEvent> {
    try {
      yield* this.events;
    } finally {
      this.markDelivered();
    }
  }

  /** The answer has been delivered, or never will be (the client left): slots may come back. */
  markDelivered(): void {
    this.slots.markDelivered();
  }

  /** The client left: every running choice stops at its worker's next step. */
  cancel(): void {
    for (const choice of this.choices) this.endChoice(choice, "cancelled");
  }

  /** Ends the request with `error`, which the consumer's loop then throws. */
  abort(error: Error): void {
    if (this.unfinished === 0) return;
    this.failed = true;
    this.events.fail(error);
    for (const choice of this.choices) this.endChoice(choice, "error");
  }

  /**
   * Starts every sequence, each prompt planned once with the prefix cache: its siblings start
   * from the same cached state, and only the first reports states to store (the others' would be
   * the same).
   */
  private startSequences(): void {
    const prompts = new Map<readonly number[], number[]>();
    for (const [index, spec] of this.request.sequences.entries()) {
      const indices = prompts.get(spec.promptIds);
      if (indices) indices.push(index);
      else prompts.set(spec.promptIds, [index]);
    }
    for (const [ids, indices] of prompts) this.startPrompt(ids, indices);
  }

  /**
   * Starts one prompt's choices. When a running sequence is about to report a state further into
   * this prompt than the cache holds (where another prompt of a shared context branches off), the
   * choices wait for it and start from it; choices that ended meanwhile (client gone, deadline)
   * never start, and their slots come back.
   */
  private startPrompt(ids: readonly number[], indices: readonly number[]): void {
    const { pool, prefixCache, metrics } = this.context;
    const running = indices.filter((index) => this.choices[index].finishReason === null);
    for (let k = running.length; k < indices.length; k++) this.slots.sequenceReleased();
    if (running.length === 0) return;
    const leader = this.request.sequences[running[0]];
    const scoring = leader.promptLogprobs ?? null;
    const wait = this.request.startState ? undefined : prefixCache.pendingPrefix(ids, scoring);
    if (wait) {
      void wait.then(() => this.startPrompt(ids, running));
      return;
    }
    let plan: PrefixPlan = prefixCache.plan(ids, leader.prefixHints, scoring);
    if (prefixCache.maxEntries > 0) metrics.prefixCacheLookup(plan.cached?.tokens ?? 0);
    const held = this.request.startState;
    if (held && held.tokens < ids.length && held.tokens > (plan.cached?.tokens ?? 0))
      plan = { ...plan, cached: held, snapshotAt: plan.snapshotAt.filter((at) => at > held.tokens) };
    this.cachedTokens += plan.cached?.tokens ?? 0;
    const { cached } = plan;
    for (const [k, index] of running.entries()) {
      const spec = this.request.sequences[index];
      const choice = this.choices[index];
      // Only the first choice reports states to store (the others' would be the same).
      const snapshotAt = k === 0 ? plan.snapshotAt : [];
      if (spec.promptLogprobs != null) {
        choice.promptScores = cachedScores(ids, cached, spec.promptLogprobs);
        // Scored whole by the cache (the same prompt again): nothing of it is left to score.
        if (this.promptScored(choice)) this.pushPromptScores(choice, null);
      }
      choice.handle = pool.run(
        {
          spec,
          cachedState: cached && { values: cached.values.slice(), tokens: cached.tokens },
          snapshotAt,
          ...(this.timings ? { timed: true } : {}),
        },
        {
          token: (message) => this.onToken(choice, message),
          snapshot: (promptTokens, values, nextLogits) =>
            prefixCache.store(
              ids,
              promptTokens,
              values,
              scoredPrefix(choice, promptTokens, nextLogits, spec),
            ),
          promptScores: (message) => this.onPromptScores(choice, message),
          failed: (error) => this.onFailure(choice, error),
          released: () => {
            if (k === 0) prefixCache.settle(ids, snapshotAt);
            this.slots.sequenceReleased();
          },
        },
      );
    }
  }

  private onToken(choice: Choice, message: TokenMessage): void {
    if (choice.finishReason !== null) return;
    const now = performance.now();
    const { metrics } = this.context;
    if (this.firstTokenAt === null) {
      this.firstTokenAt = now;
      metrics.firstToken(seconds(this.arrivedAt, now), seconds(this.admittedAt, now));
    }
    metrics.tokenGenerated(choice.lastTokenAt === null ? null : seconds(choice.lastTokenAt, now));
    choice.lastTokenAt = now;
    this.completionTokens++;
    this.timings?.token(choice.index, message.timing);
    const spec = this.request.sequences[choice.index];
    const isStopToken = message.finishReason === "stop" && spec.stopTokenIds.includes(message.token);
    const finalState = message.finalState;
    if (spec.keepFinalState) this.rememberReply(choice, spec, message);
    this.events.push(
      {
        index: choice.index,
        token: message.token,
        text: message.text,
        logprobs: isStopToken ? null : message.logprobs,
        ...(isStopToken && message.logprobs ? { stopLogprobs: message.logprobs } : {}),
        finishReason: message.finishReason,
        ...(finalState ? { finalState } : {}),
      },
      message.finishReason === null,
    );
    if (message.finishReason !== null) this.endChoice(choice, message.finishReason);
  }

  /** Appends a worker's scores; the whole prompt's go out in one event, before any token. */
  private onPromptScores(choice: Choice, message: PromptScoresMessage): void {
    if (choice.finishReason !== null) return;
    const scores = choice.promptScores;
    if (scores && message.logprobs.length > 0) {
      if (message.from !== scores.length)
        throw new Error(`prompt scores from ${message.from}, expected ${scores.length}`);
      scores.push(...message.logprobs);
    }
    const complete = scores !== undefined && message.logprobs.length > 0 && this.promptScored(choice);
    if (complete) this.pushPromptScores(choice, message.finishReason);
    else if (message.finishReason !== null) {
      const end = { index: choice.index, text: "", logprobs: null, finishReason: message.finishReason };
      this.events.push(end, false);
    }
    if (message.finishReason !== null) this.endChoice(choice, message.finishReason);
  }

  private pushPromptScores(choice: Choice, finishReason: FinishReason | null): void {
    const event = {
      index: choice.index,
      text: "",
      logprobs: null,
      finishReason,
      promptLogprobs: choice.promptScores,
    };
    this.events.push(event, finishReason === null);
  }

  private promptScored(choice: Choice): boolean {
    return choice.promptScores?.length === this.request.sequences[choice.index].promptIds.length;
  }

  /**
   * The state after a choice's reply goes into the prefix cache, keyed by the ids it consumed
   * (the prompt and every generated token but the last, which was never fed): a client that
   * sends the conversation back with this reply in it (what chat UIs do) then prefills only its
   * new turn, whenever the reply re-tokenizes to the ids generated (the lookup compares them).
   */
  private rememberReply(choice: Choice, spec: SequenceSpec, message: TokenMessage): void {
    choice.generated ??= [];
    const generated = choice.generated;
    generated.push(message.token);
    if (!message.finalState || generated.length < 2) return;
    const consumed = [...spec.promptIds, ...generated.slice(0, -1)];
    const values = message.finalState.values.slice();
    this.context.prefixCache.store(consumed, consumed.length, values);
    this.request.onReplyState?.(consumed, values);
  }

  private onFailure(choice: Choice, error: Error): void {
    if (choice.finishReason !== null) return;
    this.context.log.error({ err: error }, "generation failed");
    this.abort(this.context.failure(error));
  }

  /** The request's deadline: choices still running end as if they had reached max_tokens. */
  private endAtDeadline(): void {
    if (this.unfinished === 0) return;
    this.context.metrics.requestFailed("deadline");
    for (const choice of this.choices) {
      if (choice.finishReason !== null) continue;
      this.events.push({ index: choice.index, text: "", logprobs: null, finishReason: "length" }, false);
      this.endChoice(choice, "length");
    }
  }

  private endChoice(choice: Choice, reason: RequestFinishReason): void {
    if (choice.finishReason !== null) return;
    choice.finishReason = reason;
    this.timings?.ended(choice.index, reason);
    // A no-op for a choice whose worker sent its last token; stops the others at the next step.
    choice.handle?.cancel();
    this.context.metrics.choiceFinished(reason);
    if (--this.unfinished > 0) return;
    clearTimeout(this.deadline);
    if (!this.failed) this.context.metrics.requestFinished(seconds(this.arrivedAt));
    this.resolveFinished();
    this.events.end();
  }
}

/**
 * A scored prompt's first positions, before the worker scores the rest: position 0 (no row before
 * it, so null) and, from a scored cached prefix, its positions and the one its last row scores.
 */
function cachedScores(
  ids: readonly number[],
  cached: CachedPrefix | undefined,
  alternatives: number,
): (PromptTokenLogprobs | null)[] {
  if (!cached?.scored) return [null];
  const { logprobs, nextLogits } = cached.scored;
  return [
    ...logprobs.map((scored) => scored && withAlternatives(scored, alternatives)),
    promptTokenLogprobs(nextLogits, ids[cached.tokens], alternatives),
  ];
}

/** What the cache keeps of a scored prompt's snapshot: its positions so far and the next row's logits. */
function scoredPrefix(
  choice: { readonly promptScores?: readonly (PromptTokenLogprobs | null)[] },
  promptTokens: number,
  nextLogits: Float32Array | undefined,
  spec: SequenceSpec,
): ScoredPrefix | undefined {
  const scores = choice.promptScores;
  if (!nextLogits || !scores || scores.length < promptTokens) return undefined;
  return { logprobs: scores.slice(0, promptTokens), nextLogits, alternatives: spec.promptLogprobs ?? 0 };
}
