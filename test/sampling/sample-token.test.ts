import { describe, expect, it } from "vitest";
import { argmax, cloneSampler, createSamplerScratch } from "../../src/engine/sampling/sampler.js";
import type { SamplingParams } from "../../src/engine/sampling/sampling-params.js";
import { createSamplerState, type SamplerState, sampleToken } from "./sequence-sampler.js";

const cloneSamplerState = (state: SamplerState): SamplerState => ({
  ...state,
  sampler: state.sampler && cloneSampler(state.sampler),
});

const VOCAB_SIZE = 50;
const logits = Float32Array.from({ length: VOCAB_SIZE }, (_, token) => Math.sin(token * 1.7) * 3);

function generate(params: SamplingParams, state: SamplerState, count: number, input = logits): number[] {
  const scratch = createSamplerScratch(input.length);
  return Array.from({ length: count }, () => sampleToken(input, params, state, scratch).token);
}

describe("greedy decoding (temperature 0)", () => {
  it("takes the arg-max of the processed logits, whatever the truncation settings", () => {
    const best = argmax(logits);
    expect(logits[best]).toBe(Math.max(...logits));
    const tokens = generate({ temperature: 0, top_k: 3, top_p: 0.1, min_p: 0.9 }, createSamplerState([]), 5);
    expect(tokens).toEqual([best, best, best, best, best]);
  });

  it("breaks ties towards the lowest token id", () => {
    const tied = Float32Array.from([0, 2, 1, 2, 2]);
    expect(generate({ temperature: 0 }, createSamplerState([]), 1, tied)).toEqual([1]);
  });

  it("follows the penalties: a repeated token loses the arg-max", () => {
    const twoClose = Float32Array.from([1, 0.9, -3]);
    const params = { temperature: 0, frequency_penalty: 0.5 };
    expect(generate(params, createSamplerState([]), 4, twoClose)).toEqual([0, 1, 0, 1]);
  });
});

describe("logit_bias", () => {
  const best = argmax(logits);

  it("-100 bans a token: never the arg-max, never drawn", () => {
    const params = { logit_bias: { [best]: -100 } };
    expect(generate({ ...params, temperature: 0 }, createSamplerState([]), 1)).not.toEqual([best]);
    expect(generate({ ...params, temperature: 1.5 }, createSamplerState([], 1), 20_000)).not.toContain(best);
  });

  it("+100 forces a token: always the arg-max, always drawn", () => {
    const worst = logits.indexOf(Math.min(...logits));
    const params = { logit_bias: { [worst]: 100 }, temperature: 2 };
    expect(new Set(generate(params, createSamplerState([], 1), 20_000))).toEqual(new Set([worst]));
  });
});

describe("reproducibility", () => {
  const params = { temperature: 0.9, top_p: 0.95, frequency_penalty: 0.3, repetition_penalty: 1.1 };

  it("the same seed gives the same 1000 tokens; another seed other tokens", () => {
    const tokens = generate(params, createSamplerState([1, 2, 3], 2024), 1000);
    expect(generate(params, createSamplerState([1, 2, 3], 2024), 1000)).toEqual(tokens);
    expect(generate(params, createSamplerState([1, 2, 3], 2025), 1000)).not.toEqual(tokens);
  });

  it("a saved state continues exactly as the original, penalties included", () => {
    const state = createSamplerState([1, 2, 3], 77);
    generate(params, state, 300);
    const saved = cloneSamplerState(state);
    const continuation = generate(params, state, 700);
    expect(generate(params, saved, 700)).toEqual(continuation);
  });

  it("without a seed, two sequences draw differently", () => {
    expect(generate(params, createSamplerState([]), 200)).not.toEqual(
      generate(params, createSamplerState([]), 200),
    );
  });

  it("draws by inverse CDF in token id order, from the reference generator's floats", () => {
    // The first unit floats of seed 42 per the reference C (see rng.test.ts). Plain temperature
    // sampling walks the vocabulary in id order, so each token is the first whose cumulative
    // softmax exceeds the float: this pins what a seed means, independently of the code.
    const referenceFloats = [0.41370166815658871, 0.0039839933778147429, 0.65008370276388672];
    const max = Math.max(...logits);
    const weights = Array.from(logits, (logit) => Math.exp(logit - max));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    const expected = referenceFloats.map((u) => {
      let cumulative = 0;
      for (let token = 0; token < weights.length; token++) {
        cumulative += weights[token] / total;
        if (cumulative > u) return token;
      }
      return -1;
    });
    expect(generate({}, createSamplerState([], 42), 3)).toEqual(expected);
  });

  it("leaves the model's logits untouched", () => {
    const copy = logits.slice();
    generate({ ...params, logit_bias: { "3": 5 } }, createSamplerState([3, 4], 1), 50);
    expect(logits).toEqual(copy);
  });

  it("refuses a scratch sized for another vocabulary", () => {
    expect(() =>
      sampleToken(logits, {}, createSamplerState([]), createSamplerScratch(VOCAB_SIZE + 1)),
    ).toThrow(RangeError);
  });
});

describe("logprobs", () => {
  const state = () => createSamplerState([], 5);
  const scratch = createSamplerScratch(VOCAB_SIZE);

  /** log-softmax in float64 over the processed logits. */
  function logSoftmax(values: Float32Array): number[] {
    const max = Math.max(...values);
    const logSum = Math.log(values.reduce((sum, value) => sum + Math.exp(value - max), 0));
    return Array.from(values, (value) => value - max - logSum);
  }

  it("are the log-softmax of the logits, with the chosen token and the top N, most likely first", () => {
    const expected = logSoftmax(logits);
    const { token, logprobs } = sampleToken(logits, { logprobs: 5 }, state(), scratch);
    expect(logprobs).not.toBeNull();
    expect(logprobs!.token).toBe(token);
    expect(logprobs!.logprob).toBeCloseTo(expected[token], 12);

    const ranked = expected.map((logprob, id) => ({ id, logprob })).sort((a, b) => b.logprob - a.logprob);
    expect(logprobs!.topLogprobs.map((entry) => entry.token)).toEqual(
      ranked.slice(0, 5).map((entry) => entry.id),
    );
    for (const entry of logprobs!.topLogprobs) expect(entry.logprob).toBeCloseTo(expected[entry.token], 12);
    const values = logprobs!.topLogprobs.map((entry) => entry.logprob);
    expect(values).toEqual([...values].sort((a, b) => b - a));
  });

  it("include the chosen token among the alternatives when it is among the most likely", () => {
    const { token, logprobs } = sampleToken(logits, { temperature: 0, logprobs: 3 }, state(), scratch);
    expect(logprobs!.topLogprobs[0]).toEqual({ token, logprob: logprobs!.logprob });
  });

  it("rank equal logprobs by token id", () => {
    const tied = Float32Array.from([0, 1, 0, 1, 0]);
    const { logprobs } = sampleToken(tied, { logprobs: 4 }, state(), createSamplerScratch(5));
    expect(logprobs!.topLogprobs.map((entry) => entry.token)).toEqual([1, 3, 0, 2]);
  });

  it("see bias and penalties but not temperature or truncation", () => {
    const steering = { logit_bias: { "7": 3 }, presence_penalty: 1 };
    const history = createSamplerState([], 5);
    const first = sampleToken(logits, { ...steering, temperature: 0, logprobs: 0 }, history, scratch);
    const processed = logits.slice();
    processed[7] += 3;
    processed[first.token] -= 1;

    // The same sequence (its processors' memory of `first`), drawing with shaped sampling now.
    const shaped = { ...steering, temperature: 0.3, top_k: 2, top_p: 0.5, min_p: 0.2, logprobs: 20 };
    history.sampler = { ...history.sampler!, params: shaped, logprobs: 20 };
    const { token, logprobs } = sampleToken(logits, shaped, history, scratch);
    const expected = logSoftmax(processed);
    expect(logprobs!.logprob).toBeCloseTo(expected[token], 12);
    expect(logprobs!.topLogprobs).toHaveLength(20);
    for (const entry of logprobs!.topLogprobs) expect(entry.logprob).toBeCloseTo(expected[entry.token], 12);
  });

  it("are left out unless asked for, and 0 asks for the chosen token's only", () => {
    expect(sampleToken(logits, {}, state(), scratch).logprobs).toBeNull();
    expect(sampleToken(logits, { logprobs: 0 }, state(), scratch).logprobs!.topLogprobs).toEqual([]);
  });
});
