import type {
  BatchGenerator,
  GeneratedToken,
  PromptScores,
  SequenceStart,
  StateSnapshot,
} from "../generation/batch-generator.js";
import type { SequenceSpec } from "../generation/sequence-spec.js";
import type { SequenceEnd } from "./messages.js";
import { epochMs, type StepTiming } from "./sequence-timing.js";

export interface SequenceListener {
  /** `step`: when the step that made the token ran, and its batch (for tracing). */
  token(token: GeneratedToken, step: StepTiming): void;
  snapshot(snapshot: StateSnapshot): void;
  /** Scores of prompt positions (a spec with promptLogprobs); the last one may end the sequence. */
  promptScores?(scores: PromptScores): void;
}

interface LoopEntry {
  readonly listener: SequenceListener;
  readonly end: (how: SequenceEnd) => void;
}

/**
 * Drives one worker's BatchGenerator: while any sequence runs, one step per turn of the event
 * loop. Steps are scheduled with setImmediate, which runs after the poll phase, so new tasks and
 * cancel messages that arrived during a step are taken in before the next one: a new sequence
 * joins the very next forward pass and a cancelled one is gone from it. A paused sequence sits
 * out the steps, keeping its state, until it is resumed.
 */
export class StepLoop {
  private readonly running = new Map<number, LoopEntry>();
  private stepScheduled = false;
  private stepCount = 0;

  constructor(private readonly generator: BatchGenerator) {}

  get size(): number {
    return this.running.size;
  }

  /** Steps run so far. */
  get stepsRun(): number {
    return this.stepCount;
  }

  /** Starts a sequence; `ended` resolves once its last token went to the listener, or it was cancelled. */
  add(
    spec: SequenceSpec,
    start: SequenceStart,
    listener: SequenceListener,
  ): { id: number; ended: Promise<SequenceEnd> } {
    const id = this.generator.add(spec, start);
    const ended = new Promise<SequenceEnd>((end) => this.running.set(id, { listener, end }));
    this.scheduleStep();
    return { id, ended };
  }

  /** Leaves a sequence out of the steps, state kept, until resumed. */
  pause(id: number): void {
    this.generator.pause(id);
  }

  resume(id: number): void {
    this.generator.resume(id);
    this.scheduleStep();
  }

  cancel(id: number): void {
    const sequence = this.running.get(id);
    if (!sequence) return;
    this.generator.cancel(id);
    this.running.delete(id);
    sequence.end("cancelled");
  }

  private scheduleStep(): void {
    // Nothing to step while every sequence is paused: resume schedules the next step.
    if (this.stepScheduled || this.generator.runnable === 0) return;
    this.stepScheduled = true;
    setImmediate(() => this.step());
  }

  // Not guarded: an exception here is a bug that leaves the generator's state unknown, so it is
  // left to end the worker thread; the pool replaces it and fails its sequences.
  private step(): void {
    this.stepScheduled = false;
    const startedAt = epochMs();
    const result = this.generator.step();
    const step: StepTiming = {
      startedAt,
      endedAt: epochMs(),
      batchSize: result.batchSize,
      count: ++this.stepCount,
    };
    // Scores first: a scored prefix's snapshot is stored with the scores that came before it.
    for (const scores of result.promptScores ?? []) {
      const sequence = this.running.get(scores.sequenceId);
      if (!sequence) continue;
      sequence.listener.promptScores?.(scores);
      if (scores.finishReason !== null) {
        this.running.delete(scores.sequenceId);
        sequence.end("finished");
      }
    }
    for (const snapshot of result.snapshots)
      this.running.get(snapshot.sequenceId)?.listener.snapshot(snapshot);
    for (const token of result.tokens) {
      const sequence = this.running.get(token.sequenceId);
      if (!sequence) continue;
      sequence.listener.token(token, step);
      if (token.finishReason !== null) {
        this.running.delete(token.sequenceId);
        sequence.end("finished");
      }
    }
    this.scheduleStep();
  }
}
