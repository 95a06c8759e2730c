import type { SamplingParams } from "../../src/engine/sampling/index.js";
import type { SequenceSpec } from "../../src/generation/sequence-spec.js";

/** A spec as an endpoint would build it: no stops, no logprobs, 24 tokens unless `extra` says otherwise. */
export function testSpec(
  promptIds: readonly number[],
  sampling: SamplingParams = {},
  extra: Partial<SequenceSpec> = {},
): SequenceSpec {
  return {
    promptIds,
    sampling,
    logprobs: null,
    maxTokens: 24,
    stopTokenIds: [],
    stopStrings: [],
    constraint: null,
    keepFinalState: false,
    prefixHints: [],
    ...extra,
  };
}
