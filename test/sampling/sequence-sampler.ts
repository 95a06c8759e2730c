import {
  createSampler,
  type SampledToken,
  type Sampler,
  type SamplerScratch,
  sampleToken as sampleWith,
} from "../../src/engine/sampling/sampler.js";
import type { SamplingParams } from "../../src/engine/sampling/sampling-params.js";

/**
 * One sequence's sampling as the sampler tests drive it: a prompt and a seed, and the sequence's
 * Sampler, made by the first draw from that draw's parameters (`logprobs` among them) and kept
 * for the draws after it, so that its processors and random stream carry on from one to the next.
 */
export interface SamplerState {
  readonly promptIds: readonly number[];
  readonly seed?: number | null;
  sampler?: Sampler;
}

export function createSamplerState(promptIds: readonly number[], seed?: number | null): SamplerState {
  return { promptIds, seed };
}

export function sampleToken(
  logits: Float32Array,
  params: SamplingParams & { logprobs?: number | null },
  state: SamplerState,
  scratch: SamplerScratch,
): SampledToken {
  const { logprobs, ...sampling } = params;
  state.sampler ??= createSampler(
    { ...sampling, seed: sampling.seed ?? state.seed },
    { promptIds: state.promptIds, logprobs },
  );
  return sampleWith(logits, state.sampler, scratch);
}
