import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MODEL_DIR } from "../src/model/default-model.js";

/**
 * What the scenarios send: completions of a short or a long prompt with a fixed number of output
 * tokens. Every prompt starts with a number of its own, so that no request is served from another's
 * prefix state (the cache would make the long prompts look cheaper than they are), and the
 * end-of-text token is biased away so that every request generates exactly max_tokens (what vLLM's
 * benchmarks call ignore_eos): tokens per second then measure the server, not the story lengths.
 */

const WORDS = (
  "the a little old fox rabbit queen king went into garden wood house and said to her his " +
  "once upon time there was who lived by river under hill with three sons one day when all " +
  "came back saw nothing but bright morning cold snow green field road long way home"
).split(" ");

/** A prompt of about `words` words, unique to `id`. */
export function prompt(id: number, words: number): string {
  let seed = (id * 2654435761) >>> 0 || 1;
  const out = [`Story ${id}.`];
  for (let i = 0; i < words; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    out.push(WORDS[(seed >>> 0) % WORDS.length]);
  }
  return out.join(" ");
}

export interface Shape {
  readonly name: string;
  /** Prompt words (about 1.1 tokens each for the shipped tokenizer). */
  readonly promptWords: number;
  readonly maxTokens: number;
}

export const SHORT: Shape = { name: "short", promptWords: 8, maxTokens: 32 };
export const LONG: Shape = { name: "long", promptWords: 900, maxTokens: 128 };

/** The end-of-text ids of the model (config.json's eos_token_id). */
export function eosTokenIds(modelDir = DEFAULT_MODEL_DIR): number[] {
  const config = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8"));
  const eos = config.eos_token_id;
  return (Array.isArray(eos) ? eos : [eos]).filter((id: unknown) => typeof id === "number");
}

export class Workload {
  private next = 0;
  private readonly noEos: Record<string, number>;

  constructor(
    readonly model: string,
    eosIds: readonly number[],
  ) {
    this.noEos = Object.fromEntries(eosIds.map((id) => [String(id), -100]));
  }

  /** The served model's id and end-of-text ids. */
  static async of(baseUrl: string, modelDir = DEFAULT_MODEL_DIR): Promise<Workload> {
    const models = (await (await fetch(`${baseUrl}/v1/models`)).json()) as { data: { id: string }[] };
    return new Workload(models.data[0].id, eosTokenIds(modelDir));
  }

  completion(shape: Shape): Record<string, unknown> {
    return {
      model: this.model,
      prompt: prompt(this.next++, shape.promptWords),
      max_tokens: shape.maxTokens,
      logit_bias: this.noEos,
    };
  }

  /** Long prompts for `longShare` of the requests, short ones for the rest, interleaved evenly. */
  mixed(longShare: number): () => Record<string, unknown> {
    let n = 0;
    return () => {
      n++;
      const long = Math.floor(n * longShare) > Math.floor((n - 1) * longShare);
      return this.completion(long ? LONG : SHORT);
    };
  }
}
