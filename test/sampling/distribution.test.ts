import { describe, expect, it } from "vitest";
import { createSamplerScratch } from "../../src/engine/sampling/sampler.js";
import type { SamplingParams } from "../../src/engine/sampling/sampling-params.js";
import { chiSquareGoodnessOfFit, chiSquareSurvival } from "./chi-square.js";
import { referenceDistribution } from "./reference-distribution.js";
import { createSamplerState, sampleToken } from "./sequence-sampler.js";

/**
 * The sampler's frequencies against the definitions (`referenceDistribution`), by a chi-square
 * goodness-of-fit test. The seed is fixed, so each run is the same; the threshold is what makes a
 * false failure negligible if the seed or the draw order ever changes, while the cases are built
 * so that the usual mistakes (a truncation off by one token, a missing renormalisation, the
 * truncations in another order) move tens of thousands of draws and fail by a wide margin.
 */
const SIGNIFICANCE = 1e-6;
const DRAWS = 100_000;
const SEED = 20240611;

/**
 * Twelve head tokens scattered through the vocabulary (so rank order is not id order) over a
 * long tail of 1000 tokens, which carries 19% of the mass at temperature 1.
 */
const HEAD_LOGITS = [4.0, 3.6, 3.3, 3.0, 2.6, 2.3, 2.0, 1.6, 1.2, 0.8, 0.4, 0.0];
const VOCAB_SIZE = HEAD_LOGITS.length + 1000;
const logits = new Float32Array(VOCAB_SIZE);
for (let token = 0; token < VOCAB_SIZE; token++) logits[token] = -2 - 3 * ((token * 0.6180339887) % 1);
HEAD_LOGITS.forEach((logit, rank) => {
  logits[(rank * 83 + 17) % VOCAB_SIZE] = logit;
});

const countsByParams = new Map<string, number[]>();

/** How often each token came up in `DRAWS` draws; cached, as the power tests reuse the same draws. */
function drawCounts(params: SamplingParams): number[] {
  const key = JSON.stringify(params);
  const cached = countsByParams.get(key);
  if (cached) return cached;
  const state = createSamplerState([], SEED);
  const scratch = createSamplerScratch(VOCAB_SIZE);
  const counts = new Array<number>(VOCAB_SIZE).fill(0);
  for (let draw = 0; draw < DRAWS; draw++) counts[sampleToken(logits, params, state, scratch).token]++;
  countsByParams.set(key, counts);
  return counts;
}

function supportSize(distribution: readonly number[]): number {
  return distribution.filter((probability) => probability > 0).length;
}

function drawnOutsideSupport(counts: readonly number[], distribution: readonly number[]): number[] {
  return counts.flatMap((count, token) => (count > 0 && distribution[token] === 0 ? [token] : []));
}

// No cut is within rounding of a tie: the closest is the tail nucleus, whose cumulative
// probability passes 0.9 from 0.89980 to 0.90013; the head cuts clear top_p by 0.02 or more and
// min_p by 0.009 or more in probability ratio.
const cases: { name: string; params: SamplingParams; support: number }[] = [
  { name: "temperature 1: softmax(logits)", params: { temperature: 1 }, support: VOCAB_SIZE },
  { name: "temperature 0.5: softmax(logits / 0.5)", params: { temperature: 0.5 }, support: VOCAB_SIZE },
  { name: "top_k 5: the five most likely, renormalised", params: { top_k: 5 }, support: 5 },
  {
    name: "top_p 0.65: the smallest set reaching 0.65 (five tokens), renormalised",
    params: { top_p: 0.65 },
    support: 5,
  },
  {
    name: "top_p 0.9: a nucleus that reaches into the long tail",
    params: { top_p: 0.9 },
    support: 213,
  },
  {
    name: "min_p 0.05: tokens at least 0.05 × the top token's probability",
    params: { min_p: 0.05 },
    support: 9,
  },
  {
    // top_p on the top 3 renormalised keeps two; on the whole distribution it would keep six.
    name: "top_k 3 then top_p 0.7 over the renormalised top 3",
    params: { top_k: 3, top_p: 0.7 },
    support: 2,
  },
  {
    // top_p on the top 10 renormalised keeps four; min_p then drops the fourth. Applying min_p
    // before top_p would keep two.
    name: "temperature 0.8, top_k 10, top_p 0.78, min_p 0.35, in that order",
    params: { temperature: 0.8, top_k: 10, top_p: 0.78, min_p: 0.35 },
    support: 3,
  },
];

describe("sampled frequencies follow the distribution", () => {
  for (const { name, params, support } of cases) {
    it(name, () => {
      const expected = referenceDistribution(logits, params);
      expect(supportSize(expected)).toBe(support);

      const counts = drawCounts(params);
      expect(drawnOutsideSupport(counts, expected)).toEqual([]);
      expect(chiSquareGoodnessOfFit(counts, expected).pValue).toBeGreaterThan(SIGNIFICANCE);
    });
  }
});

describe("the test has the power to fail a wrong sampler", () => {
  it("computes chi-square tail probabilities correctly", () => {
    // Quantiles from standard tables.
    expect(chiSquareSurvival(3.841459, 1)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(18.307038, 10)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(124.342113, 100)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(23.928127, 1) / 1e-6).toBeCloseTo(1, 3);
  });

  it("rejects top_p draws against the nucleus one token short", () => {
    const topPCounts = drawCounts({ top_p: 0.65 });
    const oneShort = referenceDistribution(logits, { top_p: 0.6 });
    expect(supportSize(oneShort)).toBe(4);
    expect(drawnOutsideSupport(topPCounts, oneShort)).not.toEqual([]);
  });

  it("rejects top_p draws against the nucleus one token long", () => {
    const topPCounts = drawCounts({ top_p: 0.65 });
    const oneLong = referenceDistribution(logits, { top_p: 0.7 });
    expect(supportSize(oneLong)).toBe(6);
    expect(chiSquareGoodnessOfFit(topPCounts, oneLong).pValue).toBeLessThan(SIGNIFICANCE);
  });

  it("rejects temperature 1 draws against temperature 0.9", () => {
    const counts = drawCounts({ temperature: 1 });
    expect(
      chiSquareGoodnessOfFit(counts, referenceDistribution(logits, { temperature: 0.9 })).pValue,
    ).toBeLessThan(SIGNIFICANCE);
  });
});
