import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keepMinP, keepTopK, keepTopP } from "../../src/engine/sampling/truncation.js";
import { rankOrder } from "./reference-distribution.js";

/**
 * The quickselect-based truncations against their definitions on a sorted vocabulary, on logits
 * with many ties (drawn from a few values) and awkward sizes, including one token.
 */
const logitsArbitrary = fc
  .array(fc.oneof(fc.constantFrom(-1, 0, 0.5, 2), fc.double({ min: -20, max: 20, noNaN: true })), {
    minLength: 1,
    maxLength: 300,
  })
  .map((values) => Float32Array.from(values));

function allCandidates(vocabSize: number): Int32Array {
  return Int32Array.from({ length: vocabSize }, (_, token) => token);
}

function relativeWeights(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  return Float64Array.from(logits, (logit) => Math.exp(logit - max));
}

function sortedKept(candidates: Int32Array, count: number): number[] {
  return Array.from(candidates.subarray(0, count)).sort((a, b) => a - b);
}

describe("truncation", () => {
  it("keepTopK keeps exactly the k best by rank (ties to the lower id)", () => {
    fc.assert(
      fc.property(logitsArbitrary, fc.integer({ min: 1, max: 320 }), (logits, k) => {
        const candidates = allCandidates(logits.length);
        const count = keepTopK(candidates, logits.length, logits, k);
        const expected = rankOrder(logits).slice(0, k);
        expect(count).toBe(expected.length);
        expect(sortedKept(candidates, count)).toEqual(expected.sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });

  it("keepTopP keeps the shortest rank-order prefix reaching top_p of the mass", () => {
    fc.assert(
      fc.property(logitsArbitrary, fc.double({ min: 0.01, max: 0.99, noNaN: true }), (logits, topP) => {
        const weights = relativeWeights(logits);
        const ranked = rankOrder(logits);
        const total = ranked.reduce((sum, token) => sum + weights[token], 0);
        // Skip cuts that rounding could move: some prefix mass within 1e-9 of the target.
        let cumulative = 0;
        let expectedSize = 0;
        for (const token of ranked) {
          fc.pre(Math.abs(cumulative - topP * total) > 1e-9 * total);
          if (cumulative >= topP * total) break;
          cumulative += weights[token];
          expectedSize++;
        }
        const candidates = allCandidates(logits.length);
        const count = keepTopP(candidates, logits.length, logits, weights, topP);
        expect(sortedKept(candidates, count)).toEqual(ranked.slice(0, expectedSize).sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });

  it("keepTopP always keeps the top token, and top_p near 1 keeps all", () => {
    const logits = Float32Array.from([0, 5, 1]);
    const weights = relativeWeights(logits);
    const candidates = allCandidates(3);
    expect(keepTopP(candidates, 3, logits, weights, 1e-9)).toBe(1);
    expect(candidates[0]).toBe(1);
    expect(keepTopP(allCandidates(3), 3, logits, weights, 0.999999999)).toBe(3);
  });

  it("keepMinP keeps tokens with probability ≥ min_p × the top token's, in their order", () => {
    fc.assert(
      fc.property(logitsArbitrary, fc.double({ min: 0, max: 1, noNaN: true }), (logits, minP) => {
        const weights = relativeWeights(logits);
        const candidates = allCandidates(logits.length);
        const count = keepMinP(candidates, logits.length, weights, minP);
        const expected = Array.from(logits.keys()).filter((token) => weights[token] >= minP);
        expect(Array.from(candidates.subarray(0, count))).toEqual(expected);
        expect(count).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it("work on a candidate prefix: top_k then top_p renormalises over the top k", () => {
    // Weights 1, 1, 1, 1, then 4 tiny: top_k 4 then top_p 0.5 is two tokens of the four.
    const logits = Float32Array.from([0, 0, 0, 0, -30, -30, -30, -30]);
    const weights = relativeWeights(logits);
    const candidates = allCandidates(8);
    const afterTopK = keepTopK(candidates, 8, logits, 4);
    expect(sortedKept(candidates, afterTopK)).toEqual([0, 1, 2, 3]);
    const afterTopP = keepTopP(candidates, afterTopK, logits, weights, 0.5);
    expect(sortedKept(candidates, afterTopP)).toEqual([0, 1]);
  });
});
