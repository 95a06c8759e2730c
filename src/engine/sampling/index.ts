/** The token sampler: what the scheduler and the server import. */
export type { TokenLogprob, TokenLogprobs } from "./logprobs.js";
export type { SampledToken, SamplerScratch } from "./sample-token.js";
export { createSamplerScratch, sampleToken } from "./sample-token.js";
export type { SamplerState } from "./sampler-state.js";
export { cloneSamplerState, createSamplerState } from "./sampler-state.js";
export * from "./sampling-params.js";
export type { StopStringMatcher, StopStringOutput } from "./stop-strings.js";
export { createStopStringMatcher, finishStopStringMatcher, pushStopStringText } from "./stop-strings.js";
