import fc from "fast-check";
import { expect, it } from "vitest";
import { createNativeKernel, nativeKernelPaths } from "../../src/engine/kernels/native.js";
import { samplingWeights } from "../../src/engine/sampling/sampler.js";

/**
 * The native sampler weights against the JS reference, bit for bit: random logits (some far
 * below the maximum, past exp's underflow), temperatures from 0.05 to 3, candidate lists in any
 * order and of any length (the vector loop's tail included). Seeded draws must not depend on
 * the kernel.
 */
const available = nativeKernelPaths().length > 0;
if (process.env.TRINE_REQUIRE_NATIVE === "1" && !available) createNativeKernel();

it.runIf(available)("native samplingWeights equals the JS reference bit for bit", () => {
  const native = createNativeKernel().samplingWeights!;
  const vocabulary = 300;
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.double({ min: -30, max: 30, noNaN: true }), fc.constantFrom(-2000, 0, 1.5)), {
        minLength: vocabulary,
        maxLength: vocabulary,
      }),
      fc.oneof(
        fc.uniqueArray(fc.integer({ min: 0, max: vocabulary - 1 }), { minLength: 1, maxLength: vocabulary }),
        // The whole vocabulary from some token on, in order: the usual case, read without gathers.
        fc
          .integer({ min: 0, max: vocabulary - 1 })
          .map((from) => Array.from({ length: vocabulary - from }, (_, i) => from + i)),
      ),
      fc.double({ min: 0.05, max: 3, noNaN: true }),
      (values, candidateList, temperature) => {
        const logits = Float32Array.from(values);
        const candidates = Int32Array.from(candidateList);
        let maxLogit = Number.NEGATIVE_INFINITY;
        for (const token of candidates) maxLogit = Math.max(maxLogit, logits[token]);
        const expected = new Float64Array(vocabulary);
        const got = new Float64Array(vocabulary);
        const args = [logits, candidates, candidates.length, maxLogit, temperature] as const;
        const expectedTotal = samplingWeights(...args, expected);
        const total = native(...args, got);
        expect(Object.is(total, expectedTotal)).toBe(true);
        expect(got).toEqual(expected);
      },
    ),
    { numRuns: 2000 },
  );
});

it.runIf(available)("native samplingWeights refuses a candidate outside the vocabulary", () => {
  const native = createNativeKernel().samplingWeights!;
  const call = () => native(new Float32Array(4), Int32Array.of(0, 4), 2, 0, 1, new Float64Array(4));
  expect(call).toThrow(RangeError);
});
