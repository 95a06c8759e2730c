/**
 * A sequence's timings as its worker saw them, for tracing: plain numbers that ride on the token
 * messages already flowing to the main thread, so the main thread builds the prefill and decode
 * spans and no worker needs an exporter of its own. Only sequences whose task asked for them
 * (`SequenceTask.timed`, set while tracing is on) carry any.
 *
 * Times are Unix epoch milliseconds (`performance.timeOrigin + performance.now()`): each thread has
 * its own `performance.now()` origin, the epoch is the one clock they share.
 */

/** One step of a worker's step loop. */
export interface StepTiming {
  /** Epoch ms when the forward pass began. */
  readonly startedAt: number;
  /** Epoch ms when its tokens were sampled and decoded. */
  readonly endedAt: number;
  /** Sequences in the forward pass (decoding ones and prompt chunks together). */
  readonly batchSize: number;
  /** Steps the loop has run, this one included. */
  readonly count: number;
}

/** With a sequence's first token: its prompt's trip through the worker. */
export interface PrefillTiming {
  /** Epoch ms when the worker took the sequence in. */
  readonly receivedAt: number;
  /** Epoch ms when the step that produced the first token ended. */
  readonly firstTokenAt: number;
  /** Steps the worker ran from taking the sequence in to its first token, that one included. */
  readonly steps: number;
  /** The batch of the step that produced the first token. */
  readonly batchSize: number;
}

/** With a sequence's last token: its decode steps, the first token's step excluded. */
export interface DecodeTiming {
  /** Epoch ms when the step that produced the last token ended. */
  readonly lastTokenAt: number;
  /** Tokens after the first: one decode step each. */
  readonly steps: number;
  /** The smallest, mean and largest batch among those steps (0 when there were none). */
  readonly batchSizeMin: number;
  readonly batchSizeMean: number;
  readonly batchSizeMax: number;
}

/** Carried by a TokenMessage: `prefill` on the first token, `decode` on the last (both when they are one). */
export interface SequenceTiming {
  readonly prefill?: PrefillTiming;
  readonly decode?: DecodeTiming;
}

export const epochMs = (): number => performance.timeOrigin + performance.now();

/** Accumulates one sequence's timings in its worker. */
export class SequenceTimer {
  private readonly receivedAt = epochMs();
  private firstToken: PrefillTiming | null = null;
  private decodeSteps = 0;
  private batchSizeSum = 0;
  private batchSizeMin = Number.POSITIVE_INFINITY;
  private batchSizeMax = 0;

  /** `stepsRun`: the step count of the loop the sequence joins, when it joins. */
  constructor(private readonly stepsRun: number) {}

  /** The sequence got a token in `step`: what to send with it. */
  token(step: StepTiming, last: boolean): SequenceTiming | undefined {
    let prefill: PrefillTiming | undefined;
    if (this.firstToken === null) {
      prefill = this.firstToken = {
        receivedAt: this.receivedAt,
        firstTokenAt: step.endedAt,
        steps: step.count - this.stepsRun,
        batchSize: step.batchSize,
      };
    } else {
      this.decodeSteps++;
      this.batchSizeSum += step.batchSize;
      this.batchSizeMin = Math.min(this.batchSizeMin, step.batchSize);
      this.batchSizeMax = Math.max(this.batchSizeMax, step.batchSize);
    }
    if (!last) return prefill && { prefill };
    const decode: DecodeTiming = {
      lastTokenAt: step.endedAt,
      steps: this.decodeSteps,
      batchSizeMin: this.decodeSteps === 0 ? 0 : this.batchSizeMin,
      batchSizeMean: this.decodeSteps === 0 ? 0 : this.batchSizeSum / this.decodeSteps,
      batchSizeMax: this.batchSizeMax,
    };
    return prefill ? { prefill, decode } : { decode };
  }
}
