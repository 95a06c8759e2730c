import type { ServerConfig } from "../../config.js";
import { invalidRequest } from "../../errors.js";
import type { CollectedChoice } from "../shared/run-response.js";
import { MAX_CHOICES } from "../shared/schema.js";
import type { CompletionRequest } from "./schema.js";

/**
 * best_of, OpenAI's legacy completions semantics: best_of candidates per prompt are generated
 * together (continuous batching runs them as one batch), and the n with the highest mean token
 * log-probability are returned, best first. Usage counts every candidate's tokens, as OpenAI bills
 * them. (vLLM removed best_of; a recurrent model's candidates cost one state each, so Trine keeps it.)
 */

/** Candidates per prompt: best_of when it asks for more than n, else n. */
export function candidatesPerPrompt(body: CompletionRequest): number {
  const n = body.n ?? 1;
  return Math.max(n, body.best_of ?? n);
}

/** Refuses best_of below n, above OpenAI's limit, with stream, or beyond the server's slots. */
export function checkBestOf(body: CompletionRequest, prompts: number, config: ServerConfig): void {
  const n = body.n ?? 1;
  const bestOf = body.best_of;
  if (bestOf == null || bestOf === n) return;
  if (!(bestOf >= n && bestOf <= MAX_CHOICES))
    throw invalidRequest(
      `best_of must be from n (${n}) to ${MAX_CHOICES}: it is how many candidates the n choices are picked from.`,
      "best_of",
      "invalid_value",
    );
  if (body.stream === true)
    throw invalidRequest(
      "best_of greater than n cannot be streamed: the best candidates are known only once all have finished.",
      "best_of",
      "invalid_value",
    );
  const slots = config.workers * config.maxSequences;
  if (bestOf * prompts > slots)
    throw invalidRequest(
      `This request needs ${bestOf * prompts} sequences (best_of x prompts) but the server runs at most ${slots} at once.`,
      "best_of",
      "invalid_value",
    );
}

/** The mean logprob of a candidate's generated tokens, the stop token included (the model chose it too). */
export function meanTokenLogprob(choice: CollectedChoice): number {
  const logprobs = choice.stopLogprobs ? [...choice.logprobs, choice.stopLogprobs] : choice.logprobs;
  if (logprobs.length === 0) return Number.NEGATIVE_INFINITY;
  return logprobs.reduce((sum, entry) => sum + entry.logprob, 0) / logprobs.length;
}

/**
 * Each prompt's n best of its `candidates` (run order: prompt-major), best first, ties to the
 * earlier candidate; `runIndex` is the candidate's place in the run.
 */
export function pickBest<T extends CollectedChoice>(
  choices: readonly T[],
  candidates: number,
  n: number,
): { choice: T; runIndex: number }[] {
  const picked: { choice: T; runIndex: number }[] = [];
  for (let first = 0; first < choices.length; first += candidates) {
    const ranked = choices
      .slice(first, first + candidates)
      .map((choice, k) => ({ choice, runIndex: first + k, score: meanTokenLogprob(choice) }))
      .sort((a, b) => b.score - a.score || a.runIndex - b.runIndex);
    for (const { choice, runIndex } of ranked.slice(0, n)) picked.push({ choice, runIndex });
  }
  return picked;
}
