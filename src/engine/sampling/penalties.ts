import type { SamplerState } from "./sampler-state.js";
import {
  DEFAULT_FREQUENCY_PENALTY,
  DEFAULT_PRESENCE_PENALTY,
  DEFAULT_REPETITION_PENALTY,
  type SamplingParams,
} from "./sampling-params.js";

/**
 * Writes into `processedLogits` the model's `logits` with logit_bias and the penalties applied, in
 * vLLM's order: logit_bias, then the repetition penalty, then the frequency and presence
 * penalties. These are the logits that greedy decoding, temperature sampling and logprobs all
 * start from. `logits` is left untouched; the work is a copy plus one visit per biased or
 * remembered token.
 */
export function applyBiasAndPenalties(
  logits: Float32Array,
  params: SamplingParams,
  state: SamplerState,
  processedLogits: Float32Array,
): Float32Array {
  processedLogits.set(logits);

  const logitBias = params.logit_bias;
  if (logitBias != null) for (const key in logitBias) processedLogits[Number(key)] += logitBias[key];

  const repetitionPenalty = params.repetition_penalty ?? DEFAULT_REPETITION_PENALTY;
  if (repetitionPenalty !== 1) {
    // Dividing a positive logit and multiplying a negative one both make the token less likely
    // (for a penalty > 1); scaling a negative logit down would have made it more likely.
    for (const token of state.seenTokens) {
      const logit = processedLogits[token];
      processedLogits[token] = logit > 0 ? logit / repetitionPenalty : logit * repetitionPenalty;
    }
  }

  const frequencyPenalty = params.frequency_penalty ?? DEFAULT_FREQUENCY_PENALTY;
  const presencePenalty = params.presence_penalty ?? DEFAULT_PRESENCE_PENALTY;
  if (frequencyPenalty !== 0 || presencePenalty !== 0) {
    for (const [token, count] of state.generatedTokenCounts)
      processedLogits[token] -= count * frequencyPenalty + presencePenalty;
  }

  return processedLogits;
}
