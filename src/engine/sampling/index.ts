/** The token sampler: what the batch generator, the spec builder and the server import. */
export type { LogitsProcessor } from "./logits-processor.js";
export type { TokenLogprob, TokenLogprobs } from "./logprobs.js";
export type { SampledToken, Sampler, SamplerOptions, SamplerScratch } from "./sampler.js";
export { cloneSampler, createSampler, createSamplerScratch, sampleToken } from "./sampler.js";
export * from "./sampling-params.js";
export type { StopStringMatcher, StopStringOutput } from "./stop-strings.js";
export { createStopStringMatcher, finishStopStringMatcher, pushStopStringText } from "./stop-strings.js";
