import { Piscina } from "piscina";
import type { Tokenizer } from "../tokenizer/index.js";

/**
 * Tokenizes prompts for the server without pausing its event loop. The main thread delivers
 * every stream's tokens, and tokenizing takes it 1 to 5 µs a character: a prompt of 60 KB, within
 * the limits, held every stream up by 150 to 220 ms. So texts of OFF_THREAD_MIN_CHARS or more go
 * to a tokenizer thread (the model's tokenizer loaded there too); shorter ones, nearly every chat
 * turn, are encoded at once on the main thread, where the hop would cost more than the work.
 *
 * The thread holds a whole tokenizer (~60 MB resident with the Llama 32,000-token one, ~20 MB
 * with the shipped model's), so it starts with the first long prompt and ends once none came for
 * TOKENIZER_THREAD_IDLE_MS: a server that sees only chat turns never pays for it. Starting it
 * costs that first long prompt ~0.3 s more with the Llama tokenizer (~0.1 s with the shipped
 * one), about what tokenizing a 60 KB prompt takes anyway.
 */

/** Below this many characters a text is tokenized on the main thread (at most ~20 ms). */
export const OFF_THREAD_MIN_CHARS = 4096;

/** How long the tokenizer thread waits for the next long prompt before it ends. */
export const TOKENIZER_THREAD_IDLE_MS = 60_000;

export interface TokenizerWorkerData {
  readonly modelDir: string;
}

export interface TokenizeTask {
  readonly text: string;
  readonly addSpecialTokens: boolean;
}

export class PromptTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly thread: Piscina,
  ) {}

  /** For the model in `modelDir`, whose tokenizer is `tokenizer`; the thread starts when first needed. */
  static start(modelDir: string, tokenizer: Tokenizer, idleMs = TOKENIZER_THREAD_IDLE_MS): PromptTokenizer {
    const fromSource = import.meta.url.endsWith(".ts");
    const thread = new Piscina({
      filename: new URL(
        fromSource ? "../workers/tokenizer-worker-source.mjs" : "../workers/tokenizer-worker.js",
        import.meta.url,
      ).href,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: idleMs,
      workerData: { modelDir } satisfies TokenizerWorkerData,
    });
    return new PromptTokenizer(tokenizer, thread);
  }

  /** Whether the tokenizer thread is alive (it is only while long prompts keep coming). */
  get threadRunning(): boolean {
    return this.thread.threads.length > 0;
  }

  async encode(text: string, addSpecialTokens = true): Promise<number[]> {
    if (text.length < OFF_THREAD_MIN_CHARS) return this.tokenizer.encode(text, { addSpecialTokens });
    const ids: Int32Array = await this.thread.run({ text, addSpecialTokens } satisfies TokenizeTask);
    return Array.from(ids);
  }

  close(): Promise<void> {
    return this.thread.destroy();
  }
}
