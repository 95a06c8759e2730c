import { Piscina } from "piscina";
import { constraintKey, MAX_GRAMMAR_COMPILE_SECONDS } from "../generation/constraints/grammar.js";
import type { OutputConstraint } from "../generation/sequence-spec.js";
import type { SharedVocabulary } from "../tokenizer/index.js";

export interface GrammarCheckWorkerData {
  /** The tokenizer's vocabulary (Tokenizer.vocabulary): views on the main thread's memory. */
  readonly vocabulary: SharedVocabulary;
  readonly vocabSize: number;
}

/** A constraint whose grammar did not compile within the limit (or at all, with the reason). */
export class GrammarCheckError extends Error {
  override readonly name = "GrammarCheckError";
}

/** Constraints known to compile in time, remembered so that repeats skip the check. */
const REMEMBERED_CONSTRAINTS = 1024;

/**
 * The compile-time limit on output constraints: each distinct constraint is compiled once on a
 * thread of its own, with a deadline; past it the thread is ended (Piscina starts another) and
 * the request refused, so no batch worker ever stalls on it.
 */
export class GrammarCheck {
  private readonly passed = new Set<string>();
  /** Started on the first check: a server that is never asked for a constraint pays nothing. */
  private thread?: Piscina;
  /** Settles once the thread has started (its start-up must not count against the limit). */
  private started?: Promise<unknown>;

  private constructor(
    private readonly workerData: GrammarCheckWorkerData,
    private readonly limitSeconds: number,
  ) {}

  static start(
    vocabulary: SharedVocabulary,
    vocabSize: number,
    limitSeconds = MAX_GRAMMAR_COMPILE_SECONDS,
  ): GrammarCheck {
    return new GrammarCheck({ vocabulary, vocabSize }, limitSeconds);
  }

  private startedThread(): Piscina {
    if (!this.thread) {
      const fromSource = import.meta.url.endsWith(".ts");
      this.thread = new Piscina({
        filename: new URL(
          fromSource ? "../workers/grammar-check-worker-source.mjs" : "../workers/grammar-check-worker.js",
          import.meta.url,
        ).href,
        minThreads: 1,
        maxThreads: 1,
        idleTimeout: Number.POSITIVE_INFINITY,
        workerData: this.workerData,
      });
      this.started = this.warmUp(this.thread);
    }
    return this.thread;
  }

  private warmUp(thread: Piscina): Promise<unknown> {
    return thread.run(null).catch(() => undefined);
  }

  /** Resolves when `constraint` compiles within the limit; else rejects with GrammarCheckError. */
  async check(constraint: OutputConstraint): Promise<void> {
    const key = constraintKey(constraint);
    if (this.passed.has(key)) return;
    const thread = this.startedThread();
    await this.started;
    try {
      await thread.run(constraint, { signal: AbortSignal.timeout(this.limitSeconds * 1000) });
    } catch (error) {
      if ((error as Error).name === "AbortError" || (error as Error).name === "TimeoutError") {
        // Piscina ended the thread and starts another; the next check waits for it.
        this.started = this.warmUp(thread);
        throw new GrammarCheckError(
          `compiling its grammar takes longer than this server's limit of ${this.limitSeconds} s`,
        );
      }
      throw new GrammarCheckError((error as Error).message);
    }
    if (this.passed.size >= REMEMBERED_CONSTRAINTS)
      this.passed.delete(this.passed.values().next().value as string);
    this.passed.add(key);
  }

  async close(): Promise<void> {
    await this.thread?.destroy();
  }
}
