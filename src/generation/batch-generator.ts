import { forward } from "../engine/forward.js";
import type { EngineKernel } from "../engine/kernels/kernel.js";
import type { Model } from "../engine/model.js";
import {
  createSampler,
  createSamplerScratch,
  createStopStringMatcher,
  finishStopStringMatcher,
  type LogitsProcessor,
  pushStopStringText,
  type Sampler,
  type SamplerScratch,
  type StopStringMatcher,
  sampleToken,
  type TokenLogprobs,
} from "../engine/sampling/index.js";
import { cloneState, createState, type RecurrentState } from "../engine/state.js";
import { Workspace } from "../engine/workspace.js";
import {
  type Detokenizer,
  decodeNextToken,
  flushIncrementalDecoding,
  type IncrementalDecoderState,
  startIncrementalDecoding,
} from "../tokenizer/index.js";
import { type PromptTokenLogprobs, promptTokenLogprobs } from "./prompt-scoring.js";
import type { OutputConstraint, SequenceSpec } from "./sequence-spec.js";

/**
 * Continuous batching over the engine: every step advances all running sequences by one token
 * in a single forward pass (one activation row each, against the same weights), and feeds a
 * bounded chunk of waiting prompts in the same pass, so a long prompt never stalls the streams
 * already running by more than one chunk. Sequences join and leave between steps.
 */

/** Where a sequence starts, decided by the scheduler beside the spec (its prefix cache). */
export interface SequenceStart {
  /**
   * A cached state that has consumed promptIds[0 .. tokens). At least one prompt token must
   * remain, since its logits give the first generated token.
   */
  readonly cachedState?: { readonly state: RecurrentState; readonly tokens: number };
  /** Prompt lengths after which the step reports a copy of the state (for a prefix cache). */
  readonly snapshotAt?: readonly number[];
}

/** Turns a spec's output constraint into the logits processor that enforces it. */
export type ConstraintCompiler = (constraint: OutputConstraint) => LogitsProcessor;

export type FinishReason = "stop" | "length";

export interface GeneratedToken {
  readonly sequenceId: number;
  readonly token: number;
  /** Text that became final with this token (often ""; never part of a stop string). */
  readonly text: string;
  readonly logprobs: TokenLogprobs | null;
  /** Set on the sequence's last token; the sequence is gone after this step. */
  readonly finishReason: FinishReason | null;
  /**
   * With the last token of a spec that asked for it (keepFinalState): the state after the prompt
   * and every generated token but this last one, which was never fed to the model; whoever
   * continues from the state feeds it first.
   */
  readonly finalState?: RecurrentState;
}

export interface StateSnapshot {
  readonly sequenceId: number;
  readonly promptTokens: number;
  readonly state: RecurrentState;
  /**
   * For a scored prompt: the logits of the row before the snapshot point, which score the token
   * after it; a cached prefix keeps them so that a prompt continuing it differently is scored too.
   */
  readonly nextLogits?: Float32Array;
}

/** Scores of a prompt's positions [from, from + logprobs.length), fed in one step. */
export interface PromptScores {
  readonly sequenceId: number;
  readonly from: number;
  readonly logprobs: PromptTokenLogprobs[];
  /** "length" when the sequence ends with its prompt (maxTokens 0); it is gone after this step. */
  readonly finishReason: FinishReason | null;
}

export interface StepResult {
  readonly tokens: GeneratedToken[];
  readonly snapshots: StateSnapshot[];
  /** Prompt tokens fed in this step (prefill work), for metrics. */
  readonly promptTokens: number;
  /** Sequences that finished their prompt in this step (their first token is in `tokens`). */
  readonly prefilled: number[];
  /** Prompt positions scored in this step (specs with promptLogprobs), and prompts that end a sequence. */
  readonly promptScores?: PromptScores[];
  /** Sequences in the forward pass: decoding ones and prompt chunks (tracing reports it). */
  readonly batchSize: number;
}

interface ActiveSequence {
  readonly id: number;
  readonly spec: SequenceSpec;
  readonly snapshotAt: readonly number[];
  readonly state: RecurrentState;
  readonly sampler: Sampler;
  /** The output constraint's processor (also in the sampler's list), to learn when it is complete. */
  readonly constraint: LogitsProcessor | undefined;
  decoder: IncrementalDecoderState;
  readonly stopMatcher: StopStringMatcher;
  /** Prompt tokens consumed by the state so far. */
  fed: number;
  generated: number;
  /** The token sampled last, to be fed in the next step. */
  pendingToken: number | null;
  /** Left out of the steps until resumed. */
  paused: boolean;
}

/** Default prompt tokens fed per step across all waiting prompts. */
export const DEFAULT_PREFILL_TOKENS_PER_STEP = 64;

export class BatchGenerator {
  private readonly sequences = new Map<number, ActiveSequence>();
  private readonly workspace = new Workspace();
  private readonly samplerScratch: SamplerScratch;
  private nextId = 1;
  private pausedCount = 0;

  constructor(
    private readonly model: Model,
    private readonly tokenizer: Detokenizer,
    private readonly kernel: EngineKernel,
    private readonly options: {
      readonly prefillTokensPerStep?: number;
      /** Without one, a spec with a constraint is refused. */
      readonly compileConstraint?: ConstraintCompiler;
    } = {},
  ) {
    this.samplerScratch = createSamplerScratch(model.config.vocabSize, kernel);
  }

  get size(): number {
    return this.sequences.size;
  }

  /** Sequences that the next step advances (not paused). */
  get runnable(): number {
    return this.sequences.size - this.pausedCount;
  }

  add(spec: SequenceSpec, start: SequenceStart = {}): number {
    const promptLength = spec.promptIds.length;
    if (promptLength === 0) throw new RangeError("a sequence needs at least one prompt token");
    const cached = start.cachedState;
    if (cached && (cached.tokens < 0 || cached.tokens >= promptLength)) {
      throw new RangeError("a cached state must leave at least one prompt token to feed");
    }
    let constraint: LogitsProcessor | undefined;
    if (spec.constraint) {
      if (!this.options.compileConstraint) throw new RangeError("this generator has no constraint compiler");
      constraint = this.options.compileConstraint(spec.constraint);
    }
    const id = this.nextId++;
    this.sequences.set(id, {
      id,
      spec,
      snapshotAt: start.snapshotAt ?? [],
      state: cached ? cloneState(cached.state) : createState(this.model.config),
      sampler: createSampler(spec.sampling, {
        promptIds: spec.promptIds,
        logprobs: spec.logprobs,
        constraint,
      }),
      constraint,
      decoder: startIncrementalDecoding(this.tokenizer, { promptIds: spec.promptIds }),
      stopMatcher: createStopStringMatcher(spec.stopStrings),
      fed: cached?.tokens ?? 0,
      generated: 0,
      pendingToken: null,
      paused: false,
    });
    return id;
  }

  /**
   * Leaves a sequence out of the steps until `resume`, its state and sampler kept as they are, so
   * that it continues exactly as if it had never stopped (its consumer is not keeping up).
   */
  pause(id: number): void {
    const seq = this.sequences.get(id);
    if (!seq || seq.paused) return;
    seq.paused = true;
    this.pausedCount++;
  }

  resume(id: number): void {
    const seq = this.sequences.get(id);
    if (!seq?.paused) return;
    seq.paused = false;
    this.pausedCount--;
  }

  /** Drops a sequence (client gone, deadline passed); its slot is free for the next step. */
  cancel(id: number): boolean {
    return this.remove(id);
  }

  private remove(id: number): boolean {
    const seq = this.sequences.get(id);
    if (seq?.paused) this.pausedCount--;
    seq?.constraint?.dispose?.();
    return this.sequences.delete(id);
  }

  step(): StepResult {
    const tokens: number[] = [];
    const rowSequence: number[] = [];
    const logitRows: number[] = [];
    const logitOwners: ActiveSequence[] = [];
    /** Index into logitRows of each logit owner's row. */
    const ownerRows: number[] = [];
    /** Rows whose logits score a prompt token: prompt position and index into logitRows. */
    const scoredRows: { seq: ActiveSequence; position: number; row: number }[] = [];
    const snapshotRows = new Map<ActiveSequence, number>();
    const promptOnly: ActiveSequence[] = [];
    const states: RecurrentState[] = [];
    const inBatch: ActiveSequence[] = [];
    /** A row for the sequence pushed last onto inBatch. */
    const addRow = (token: number) => {
      tokens.push(token);
      rowSequence.push(inBatch.length - 1);
    };

    // Running streams first: one row each.
    for (const seq of this.sequences.values()) {
      if (seq.pendingToken === null || seq.paused) continue;
      inBatch.push(seq);
      states.push(seq.state);
      addRow(seq.pendingToken);
      ownerRows.push(logitRows.length);
      logitRows.push(tokens.length - 1);
      logitOwners.push(seq);
    }
    // Then waiting prompts, oldest first, within the prefill budget.
    let budget = this.options.prefillTokensPerStep ?? DEFAULT_PREFILL_TOKENS_PER_STEP;
    let promptTokens = 0;
    const prefilled: number[] = [];
    const snapshots: StateSnapshot[] = [];
    const snapshotDue: ActiveSequence[] = [];
    for (const seq of this.sequences.values()) {
      if (budget === 0) break;
      const prompt = seq.spec.promptIds;
      if (seq.pendingToken !== null || seq.fed >= prompt.length || seq.paused) continue;
      const nextSnapshot = seq.snapshotAt.find((p) => p > seq.fed) ?? prompt.length;
      const end = Math.min(prompt.length, seq.fed + budget, nextSnapshot);
      inBatch.push(seq);
      states.push(seq.state);
      const scoring = seq.spec.promptLogprobs != null;
      for (let p = seq.fed; p < end; p++) {
        addRow(prompt[p]);
        // Row p's logits score prompt token p + 1 (the last row's give the first output token):
        // every scored row is a logit row, so lm_head runs once over the whole chunk.
        if (scoring && p + 1 < prompt.length) {
          scoredRows.push({ seq, position: p + 1, row: logitRows.length });
          logitRows.push(tokens.length - 1);
        }
      }
      budget -= end - seq.fed;
      promptTokens += end - seq.fed;
      seq.fed = end;
      if (seq.snapshotAt.includes(end)) {
        snapshotDue.push(seq);
        if (scoring) snapshotRows.set(seq, logitRows.length - 1);
      }
      if (end === prompt.length && seq.spec.maxTokens === 0) promptOnly.push(seq);
      else if (end === prompt.length) {
        ownerRows.push(logitRows.length);
        logitRows.push(tokens.length - 1);
        logitOwners.push(seq);
        prefilled.push(seq.id);
      }
    }
    if (tokens.length === 0) return { tokens: [], snapshots, promptTokens: 0, prefilled, batchSize: 0 };

    const logits = forward(
      this.model,
      states,
      { tokens, sequenceOfRow: rowSequence, logitRows },
      this.kernel,
      this.workspace,
    );
    for (const seq of snapshotDue)
      snapshots.push({
        sequenceId: seq.id,
        promptTokens: seq.fed,
        state: cloneState(seq.state),
        ...(snapshotRows.has(seq)
          ? { nextLogits: this.logitsRow(logits, snapshotRows.get(seq)!).slice() }
          : {}),
      });
    const promptScores = this.scorePrompts(logits, scoredRows, promptOnly);

    const generated: GeneratedToken[] = [];
    logitOwners.forEach((seq, k) => {
      const sampled = sampleToken(this.logitsRow(logits, ownerRows[k]), seq.sampler, this.samplerScratch);
      generated.push(this.advance(seq, sampled.token, sampled.logprobs));
    });
    return { promptScores, tokens: generated, snapshots, promptTokens, prefilled, batchSize: inBatch.length };
  }

  private logitsRow(logits: Float32Array, row: number): Float32Array {
    const V = this.model.config.vocabSize;
    return logits.subarray(row * V, (row + 1) * V);
  }

  /** The scores of this step's scored rows, by sequence; sequences that end with their prompt leave. */
  private scorePrompts(
    logits: Float32Array,
    scoredRows: readonly { seq: ActiveSequence; position: number; row: number }[],
    promptOnly: readonly ActiveSequence[],
  ): PromptScores[] {
    const bySequence = new Map<ActiveSequence, PromptScores>();
    for (const { seq, position, row } of scoredRows) {
      let scores = bySequence.get(seq);
      if (!scores) {
        scores = { sequenceId: seq.id, from: position, logprobs: [], finishReason: null };
        bySequence.set(seq, scores);
      }
      const token = seq.spec.promptIds[position];
      scores.logprobs.push(
        promptTokenLogprobs(this.logitsRow(logits, row), token, seq.spec.promptLogprobs ?? 0),
      );
    }
    for (const seq of promptOnly) {
      this.remove(seq.id);
      const scores = bySequence.get(seq);
      const from = seq.spec.promptIds.length;
      bySequence.set(seq, {
        ...(scores ?? { sequenceId: seq.id, from, logprobs: [] }),
        finishReason: "length",
      });
    }
    return [...bySequence.values()];
  }

  /** Turns a sampled token into emitted text and decides whether the sequence ends. */
  private advance(seq: ActiveSequence, token: number, logprobs: TokenLogprobs | null): GeneratedToken {
    seq.generated++;
    const base = { sequenceId: seq.id, token, logprobs };
    const last = seq.spec.keepFinalState ? { ...base, finalState: seq.state } : base;
    // A complete grammar allows only the stop tokens, so it ends here too (unless ignore_eos
    // took eos out of the stop tokens: then the grammar's completion is the end).
    if (seq.spec.stopTokenIds.includes(token) || seq.constraint?.isFinished?.()) {
      return { ...last, text: this.finish(seq).text, finishReason: "stop" };
    }
    const step = decodeNextToken(this.tokenizer, seq.decoder, token);
    seq.decoder = step.state;
    const out = pushStopStringText(seq.stopMatcher, step.text);
    if (out.stopped) {
      this.remove(seq.id);
      return { ...last, text: out.text, finishReason: "stop" };
    }
    if (seq.generated >= seq.spec.maxTokens) {
      const end = this.finish(seq);
      return { ...last, text: out.text + end.text, finishReason: end.stopped ? "stop" : "length" };
    }
    seq.pendingToken = token;
    return { ...base, text: out.text, finishReason: null };
  }

  /** Releases held-back text at the end of a sequence and removes it. */
  private finish(seq: ActiveSequence): { text: string; stopped: boolean } {
    this.remove(seq.id);
    const flushed = flushIncrementalDecoding(this.tokenizer, seq.decoder);
    const out = pushStopStringText(seq.stopMatcher, flushed.text);
    return out.stopped ? out : { text: out.text + finishStopStringMatcher(seq.stopMatcher), stopped: false };
  }
}
