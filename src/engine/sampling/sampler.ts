import { getRandomValues } from "node:crypto";
import type { EngineKernel } from "../kernels/kernel.js";
import { fastExp } from "./exp.js";
import { type LogitsProcessor, logitBiasProcessor } from "./logits-processor.js";
import { type TokenLogprobs, tokenLogprobs } from "./logprobs.js";
import { occurrencePenaltyProcessor, repetitionPenaltyProcessor } from "./penalties.js";
import { nextUnitFloat, type RngState, rngStateFromSeed } from "./rng.js";
import {
  DEFAULT_FREQUENCY_PENALTY,
  DEFAULT_MIN_P,
  DEFAULT_PRESENCE_PENALTY,
  DEFAULT_REPETITION_PENALTY,
  DEFAULT_TEMPERATURE,
  DEFAULT_TOP_K,
  DEFAULT_TOP_P,
  type SamplingParams,
} from "./sampling-params.js";
import { keepMinP, keepTopK, keepTopP } from "./truncation.js";

/**
 * One sequence's sampler: its logits processors in order, its random stream, and how it draws.
 * Plain data and closures over plain data, copied whole by `cloneSampler`, so a restored
 * sequence samples exactly as the original would have.
 */
export interface Sampler {
  /** Temperature, top_k, top_p and min_p shape the draw; the other fields became processors. */
  readonly params: SamplingParams;
  readonly processors: readonly LogitsProcessor[];
  readonly rng: RngState;
  /** Alternatives to report with each token's logprob; null = no logprobs. */
  readonly logprobs: number | null;
}

export interface SamplerOptions {
  /** Context of the repetition penalty. */
  readonly promptIds: ArrayLike<number>;
  readonly logprobs?: number | null;
  /** A constraint on the output (e.g. a grammar's token mask), run after logit_bias. */
  readonly constraint?: LogitsProcessor;
}

/**
 * The sampler for `params` (validated). Its processors run in vLLM's order: logit_bias, the
 * output constraint, the repetition penalty, then the frequency and presence penalties; only
 * those whose parameters do something are created. Without a seed the random stream is seeded
 * from the operating system's randomness: the one impure step of the sampler, kept here so
 * everything after it is deterministic given the sampler.
 */
export function createSampler(params: SamplingParams, options: SamplerOptions): Sampler {
  const processors: LogitsProcessor[] = [];
  if (params.logit_bias != null && Object.keys(params.logit_bias).length > 0)
    processors.push(logitBiasProcessor(params.logit_bias));
  if (options.constraint) processors.push(options.constraint);
  const repetitionPenalty = params.repetition_penalty ?? DEFAULT_REPETITION_PENALTY;
  if (repetitionPenalty !== 1)
    processors.push(repetitionPenaltyProcessor(repetitionPenalty, options.promptIds));
  const frequencyPenalty = params.frequency_penalty ?? DEFAULT_FREQUENCY_PENALTY;
  const presencePenalty = params.presence_penalty ?? DEFAULT_PRESENCE_PENALTY;
  if (frequencyPenalty !== 0 || presencePenalty !== 0)
    processors.push(occurrencePenaltyProcessor(frequencyPenalty, presencePenalty));
  return {
    params,
    processors,
    rng: params.seed == null ? randomRngState() : rngStateFromSeed(params.seed),
    logprobs: options.logprobs ?? null,
  };
}

export function cloneSampler(sampler: Sampler): Sampler {
  return {
    ...sampler,
    processors: sampler.processors.map((processor) => processor.clone()),
    rng: sampler.rng.slice(),
  };
}

/**
 * Vocabulary-sized working memory for `sampleToken`, allocated once per worker and reused for
 * every token of every sequence (it holds nothing between calls), so sampling allocates nothing
 * proportional to the vocabulary.
 */
export interface SamplerScratch {
  /** The logits after the processors. */
  readonly processedLogits: Float32Array;
  /** Token id → probability relative to the most likely candidate, for the candidates only. */
  readonly weights: Float64Array;
  /** Token ids still in the running for the draw. */
  readonly candidates: Int32Array;
  /** The kernel's samplingWeights when it has one (the same bits, faster). */
  readonly samplingWeights?: EngineKernel["samplingWeights"];
}

export function createSamplerScratch(vocabSize: number, kernel?: EngineKernel): SamplerScratch {
  return {
    processedLogits: new Float32Array(vocabSize),
    weights: new Float64Array(vocabSize),
    candidates: new Int32Array(vocabSize),
    ...(kernel?.samplingWeights ? { samplingWeights: kernel.samplingWeights } : {}),
  };
}

export interface SampledToken {
  token: number;
  /** null unless the sampler reports logprobs. */
  logprobs: TokenLogprobs | null;
}

/**
 * Chooses the next token of a sequence from the model's `logits` (left untouched) and tells the
 * sampler's processors, advancing its random stream. The processors run first; then either the
 * arg-max (temperature 0) or temperature → top_k → top_p → min_p → a draw. Given the same sampler
 * and logits it returns the same token on every run, and on every platform: the generator is
 * integer arithmetic and V8 computes Math.exp with the same portable code everywhere.
 */
export function sampleToken(logits: Float32Array, sampler: Sampler, scratch: SamplerScratch): SampledToken {
  if (scratch.processedLogits.length !== logits.length)
    throw new RangeError(
      `sampler scratch is for ${scratch.processedLogits.length} tokens, logits have ${logits.length}`,
    );
  const processedLogits = scratch.processedLogits;
  processedLogits.set(logits);
  for (const processor of sampler.processors) processor.process(processedLogits);
  const temperature = sampler.params.temperature ?? DEFAULT_TEMPERATURE;
  const token =
    temperature === 0
      ? argmax(processedLogits)
      : drawToken(processedLogits, temperature, sampler.params, sampler.rng, scratch);
  for (const processor of sampler.processors) processor.accept(token);
  const logprobs = sampler.logprobs === null ? null : tokenLogprobs(processedLogits, token, sampler.logprobs);
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
  const weigh = scratch.samplingWeights ?? samplingWeights;
  const totalWeight = weigh(processedLogits, candidates, count, maxLogit, temperature, weights);

  const topP = params.top_p ?? DEFAULT_TOP_P;
  const minP = params.min_p ?? DEFAULT_MIN_P;
  if (topP >= 1 && minP <= 0)
    return drawByWeight(candidates, count, weights, nextUnitFloat(rng), totalWeight);
  if (topP < 1) count = keepTopP(candidates, count, processedLogits, weights, topP, totalWeight);
  if (minP > 0) count = keepMinP(candidates, count, weights, minP);
  return drawByWeight(candidates, count, weights, nextUnitFloat(rng));
}

/**
 * Inverse-CDF draw: the candidate whose cumulative weight first exceeds `uniform` × the total
 * (their summed weight, unless the caller has it).
 */
function drawByWeight(
  candidates: Int32Array,
  count: number,
  weights: Float64Array,
  uniform: number,
  totalWeight = sumOfWeights(candidates, count, weights),
): number {
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

/**
 * weights[c] = exp((logits[c] - maxLogit) / temperature) for the candidates c, and their sum in
 * candidate order: the reference of EngineKernel.samplingWeights.
 */
export function samplingWeights(
  logits: Float32Array,
  candidates: Int32Array,
  count: number,
  maxLogit: number,
  temperature: number,
  weights: Float64Array,
): number {
  let totalWeight = 0;
  for (let i = 0; i < count; i++) {
    const token = candidates[i];
    const weight = fastExp((logits[token] - maxLogit) / temperature);
    weights[token] = weight;
    totalWeight += weight;
  }
  return totalWeight;
}

function sumOfWeights(candidates: Int32Array, count: number, weights: Float64Array): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += weights[candidates[i]];
  return total;
}

function randomRngState(): RngState {
  const state = new Uint32Array(4);
  // xoshiro's one forbidden state; 2^-128 likely, but a stuck generator would emit zeros forever.
  while (state.every((word) => word === 0)) getRandomValues(state);
  return state;
}
