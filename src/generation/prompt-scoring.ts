import type { TokenLogprobs } from "../engine/sampling/index.js";
import { tokenLogprobs } from "../engine/sampling/logprobs.js";

/**
 * Scoring a prompt: the log-probability of each prompt token under the model given the tokens
 * before it, from the raw logits of the row before it (no logit_bias or penalties: those describe
 * how to sample an output, and the prompt was not sampled). Position 0 has no row before it, so
 * it has no score, as OpenAI's `token_logprobs[0]` is null. These are the numbers `trine eval`
 * sums (src/generation/perplexity.ts), computed the same way in float64.
 */

export interface PromptTokenLogprobs extends TokenLogprobs {
  /** 1 + the number of tokens more likely than this one (vLLM's prompt_logprobs rank). */
  readonly rank: number;
}

/** The score of `token` at a prompt position, from the logits row before it. */
export function promptTokenLogprobs(
  logits: Float32Array,
  token: number,
  alternatives: number,
): PromptTokenLogprobs {
  const scored = tokenLogprobs(logits, token, alternatives);
  const logit = logits[token];
  let rank = 1;
  for (let k = 0; k < logits.length; k++) if (logits[k] > logit) rank++;
  return { ...scored, rank };
}

/** A score reported with fewer alternatives (a cached prefix scored for a request that wanted more). */
export function withAlternatives(scored: PromptTokenLogprobs, alternatives: number): PromptTokenLogprobs {
  return scored.topLogprobs.length <= alternatives
    ? scored
    : { ...scored, topLogprobs: scored.topLogprobs.slice(0, alternatives) };
}
