import { type TokenLogprobs, tokenLogprobs } from "./logprobs.js";
import { applyBiasAndPenalties } from "./penalties.js";
import { nextUnitFloat, type RngState } from "./rng.js";
import { recordGeneratedToken, type SamplerState } from "./sampler-state.js";
import {
  DEFAULT_MIN_P,
  DEFAULT_TEMPERATURE,
  DEFAULT_TOP_K,
  DEFAULT_TOP_P,
  type SamplingParams,
} from "./sampling-params.js";
import { keepMinP, keepTopK, keepTopP } from "./truncation.js";

/**
 * Vocabulary-sized working memory for `sampleToken`, allocated once per worker and reused for
 * every token of every sequence (it holds nothing between calls), so sampling allocates nothing
 * proportional to the vocabulary.
 */
export interface SamplerScratch {
  /** The logits after logit_bias and penalties. */
  readonly processedLogits: Float32Array;
  /** Token id → probability relative to the most likely candidate, for the candidates only. */
  readonly weights: Float64Array;
  /** Token ids still in the running for the draw. */
  readonly candidates: Int32Array;
}

export function createSamplerScratch(vocabSize: number): SamplerScratch {
  return {
    processedLogits: new Float32Array(vocabSize),
    weights: new Float64Array(vocabSize),
    candidates: new Int32Array(vocabSize),
  };
}

export interface SampledToken {
  token: number;
  /** null unless `params.logprobs` asked for them. */
  logprobs: TokenLogprobs | null;
}

/**
 * Chooses the next token of a sequence from the model's `logits` (left untouched) and records it
 * in `state`, advancing its random stream. In vLLM's order: logit_bias and penalties, then either
 * the arg-max (temperature 0) or temperature → top_k → top_p → min_p → a draw. Given the same
 * state, params and logits it returns the same token on every run, and on every platform: the
 * generator is integer arithmetic and V8 computes Math.exp with the same portable code everywhere.
 */
export function sampleToken(
  logits: Float32Array,
  params: SamplingParams,
  state: SamplerState,
  scratch: SamplerScratch,
): SampledToken {
  if (scratch.processedLogits.length !== logits.length)
    throw new RangeError(
      `sampler scratch is for ${scratch.processedLogits.length} tokens, logits have ${logits.length}`,
    );
  const processedLogits = applyBiasAndPenalties(logits, params, state, scratch.processedLogits);
  const temperature = params.temperature ?? DEFAULT_TEMPERATURE;
  const token =
    temperature === 0
      ? argmax(processedLogits)
      : drawToken(processedLogits, temperature, params, state.rng, scratch);
  recordGeneratedToken(state, token);
  const logprobs = params.logprobs == null ? null : tokenLogprobs(processedLogits, token, params.logprobs);
  return { token, logprobs };
}

/** The most likely token; equal logits go to the lower id, so greedy decoding is reproducible. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let token = 1; token < logits.length; token++) if (logits[token] > logits[best]) best = token;
  return best;
}

function drawToken(
  processedLogits: Float32Array,
  temperature: number,
  params: SamplingParams,
  rng: RngState,
  scratch: SamplerScratch,
): number {
  const { candidates, weights } = scratch;

  let count = 0;
  let maxLogit = Number.NEGATIVE_INFINITY;
  for (let token = 0; token < processedLogits.length; token++) {
    const logit = processedLogits[token];
    if (logit > Number.NEGATIVE_INFINITY) {
      candidates[count++] = token;
      if (logit > maxLogit) maxLogit = logit;
    }
  }
  // Every logit -inf (or NaN): there is no distribution to draw from.
  if (count === 0) return argmax(processedLogits);

  const topK = params.top_k ?? DEFAULT_TOP_K;
  if (topK > 0) count = keepTopK(candidates, count, processedLogits, topK);

  // softmax(logits / T) up to a constant factor, scaled so the top token weighs exactly 1: no
  // overflow at small temperatures, and min_p becomes a plain threshold.
  for (let i = 0; i < count; i++) {
    const token = candidates[i];
    weights[token] = Math.exp((processedLogits[token] - maxLogit) / temperature);
  }

  const topP = params.top_p ?? DEFAULT_TOP_P;
  if (topP < 1) count = keepTopP(candidates, count, processedLogits, weights, topP);
  const minP = params.min_p ?? DEFAULT_MIN_P;
  if (minP > 0) count = keepMinP(candidates, count, weights, minP);

  return drawByWeight(candidates, count, weights, nextUnitFloat(rng));
}

/** Inverse-CDF draw: the candidate whose cumulative weight first exceeds `uniform` × the total. */
function drawByWeight(candidates: Int32Array, count: number, weights: Float64Array, uniform: number): number {
  let totalWeight = 0;
  for (let i = 0; i < count; i++) totalWeight += weights[candidates[i]];
  const target = uniform * totalWeight;
  let cumulativeWeight = 0;
  let lastPossible = candidates[0];
  for (let i = 0; i < count; i++) {
    const token = candidates[i];
    const weight = weights[token];
    cumulativeWeight += weight;
    if (target < cumulativeWeight) return token;
    if (weight > 0) lastPossible = token;
  }
  // `uniform` × total can round up to the total itself.
  return lastPossible;
}
