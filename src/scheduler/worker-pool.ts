import { MessageChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import { type KernelPreference, KernelUnavailableError } from "../engine/kernels/select.js";
import type { Model } from "../engine/model.js";
import type { SharedVocabulary } from "../tokenizer/index.js";
import type {
  BatchWorkerData,
  ControlMessage,
  GrammarCompileMessage,
  PromptScoresMessage,
  SequenceMessage,
  SequenceTask,
  TokenMessage,
  WorkerReadyMessage,
} from "../workers/messages.js";

/**
 * The young generation of each worker's V8 heap, in MB: its starting size, which it then keeps. A
 * step allocates little that lives (its buffers are reused), so the default growth, up to ~8 MB
 * a worker that is handed back only seconds after a burst, bought nothing: 16 streams decode at
 * the same tokens/s either way (bench/worker-memory.ts measures the memory).
 */
const WORKER_YOUNG_GENERATION_MB = 2;

/** A worker died (or was stopped) while it ran the sequence. */
export class WorkerCrashError extends Error {
  override readonly name = "WorkerCrashError";
}

export interface PoolOptions {
  readonly model: Model;
  /** The tokenizer's vocabulary (Tokenizer.vocabulary), shared with every worker. */
  readonly vocabulary: SharedVocabulary;
  readonly workers: number;
  /** Sequences one worker advances together: Piscina's tasks per worker. */
  readonly maxSequences: number;
  readonly kernel: KernelPreference;
  readonly log: (message: string) => void;
  /** Called when a worker died and Piscina starts a replacement. */
  readonly onWorkerRestart?: () => void;
  /** Called when a worker compiled a sequence's output constraint, or found it in its cache. */
  readonly onGrammarCompile?: (cached: boolean, seconds: number) => void;
}

/** What the pool reports about one sequence; exactly one of token-with-finish, failed, or a cancel ends it. */
export interface SequenceEvents {
  token(message: TokenMessage): void;
  snapshot(promptTokens: number, values: Float32Array, nextLogits?: Float32Array): void;
  /** Scores of prompt positions; one with a finishReason ends the sequence (nothing to generate). */
  promptScores?(message: PromptScoresMessage): void;
  failed(error: Error): void;
  /**
   * The worker let go of the sequence and every message of it has arrived: its place in the
   * worker is free. Always called, last.
   */
  released(): void;
}

export type SequenceInput = Omit<SequenceTask, "port">;

/** The main thread's handle on a sequence running in a worker. */
export interface SequenceHandle {
  /** Asks the worker to drop the sequence at its next step; no event but `released` follows. */
  cancel(): void;
  /** Asks the worker to leave the sequence out of its steps (it keeps its state) until `resume`. */
  pause(): void;
  resume(): void;
}

/**
 * The worker threads, as a Piscina pool of fixed size (min = max threads) where each worker runs
 * up to `maxSequences` tasks at once. The caller's admission control never submits more tasks
 * than workers x maxSequences, so Piscina's own queue only holds tasks while a crashed worker's
 * replacement starts.
 */
export class WorkerPool {
  private closing = false;

  private constructor(
    private readonly piscina: Piscina,
    /** The ternary kernel the workers chose, e.g. "native-avx2". */
    readonly kernel: string,
  ) {}

  /** Starts the workers and waits until each has its kernel ready. */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    const fromSource = import.meta.url.endsWith(".ts");
    const workerData: BatchWorkerData = {
      model: options.model,
      vocabulary: options.vocabulary,
      kernel: options.kernel,
    };
    const piscina = new Piscina({
      filename: new URL(
        fromSource ? "../workers/batch-worker-source.mjs" : "../workers/batch-worker.js",
        import.meta.url,
      ).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      concurrentTasksPerWorker: options.maxSequences,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Workers step on their event loop; Atomics.wait would block it between tasks.
      atomics: "disabled",
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData,
    });

    let kernel: string | undefined;
    let pool: WorkerPool | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      let readyWorkers = 0;
      piscina.on("message", (message: WorkerReadyMessage | GrammarCompileMessage) => {
        if (message?.type === "grammar-compile")
          return options.onGrammarCompile?.(message.cached, message.seconds);
        if (message?.type !== "worker-ready") return;
        if (kernel === undefined) {
          for (const note of message.notes) options.log(note);
          kernel = message.kernel;
        }
        if (++readyWorkers === options.workers) resolve();
      });
      piscina.on("error", (error: Error) => {
        // Before start-up completes a failing worker (a kernel that cannot load) fails the start;
        // afterwards an error with no task attached is only logged.
        if (pool) options.log(`worker error: ${error.message}`);
        // An error thrown in a worker arrives as a plain Error; a kernel that cannot load is a
        // setting problem, which the CLI reports as such.
        else
          reject(error.name === "KernelUnavailableError" ? new KernelUnavailableError(error.message) : error);
      });
    });
    piscina.on("workerDestroy", () => {
      if (pool && !pool.closing) options.onWorkerRestart?.();
    });
    try {
      await ready;
    } catch (error) {
      await piscina.destroy();
      throw error;
    }
    pool = new WorkerPool(piscina, kernel!);
    return pool;
  }

  /** The worker threads (tests stop one to see the pool recover); not for sending work. */
  get threads(): readonly { terminate(): Promise<number> }[] {
    return this.piscina.threads;
  }

  run(input: SequenceInput, events: SequenceEvents): SequenceHandle {
    const { port1: port, port2: workerPort } = new MessageChannel();
    // The task's result and the port's messages travel on different channels, so the result can
    // arrive before the last tokens: the port stays open until both the sequence has ended and
    // the task has settled.
    let ended = false;
    let settled = false;
    let closed = false;
    const closeWhenDone = () => {
      if (!ended || !settled || closed) return;
      closed = true;
      port.close();
      events.released();
    };
    port.on("message", (message: SequenceMessage) => {
      if (ended) return;
      if (message.type === "snapshot")
        return events.snapshot(message.promptTokens, message.values, message.nextLogits);
      if (message.type === "prompt-scores") {
        ended = message.finishReason !== null;
        events.promptScores?.(message);
        return closeWhenDone();
      }
      ended = message.finishReason !== null;
      events.token(message);
      closeWhenDone();
    });
    const task: SequenceTask = { ...input, port: workerPort };
    const transferList = input.cachedState
      ? [workerPort, input.cachedState.values.buffer as ArrayBuffer]
      : [workerPort];
    this.piscina
      .run(task, { transferList })
      .catch((error: Error) => {
        if (ended) return;
        ended = true;
        events.failed(
          new WorkerCrashError("The worker thread running this request stopped; it has been replaced.", {
            cause: error,
          }),
        );
      })
      .finally(() => {
        settled = true;
        closeWhenDone();
      });
    const control = (type: ControlMessage["type"]) => {
      if (!ended) port.postMessage({ type } satisfies ControlMessage);
    };
    return {
      cancel: () => {
        if (ended) return;
        control("cancel");
        ended = true;
        closeWhenDone();
      },
      pause: () => control("pause"),
      resume: () => control("resume"),
    };
  }

  async destroy(): Promise<void> {
    this.closing = true;
    await this.piscina.destroy();
  }
}
