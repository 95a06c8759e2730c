import fc from "fast-check";
import { expect, it } from "vitest";
import { fastExp } from "../../src/engine/sampling/exp.js";

/** Units in the last place between `a` and the exact-enough `b` (Math.exp is within one of exp). */
function ulpsApart(a: number, b: number): number {
  const bits = new Float64Array([b]);
  const next = new BigInt64Array(bits.buffer);
  next[0] += 1n;
  return Math.abs(a - b) / (bits[0] - b);
}

it("fastExp is within two units in the last place of Math.exp over the sampler's range and beyond", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.double({ min: -60, max: 0, noNaN: true }), fc.double({ min: -700, max: 709, noNaN: true })),
      (x) => {
        expect(ulpsApart(fastExp(x), Math.exp(x))).toBeLessThanOrEqual(2);
      },
    ),
    { numRuns: 100_000 },
  );
});

it("fastExp is exact where exp is, and saturates as Math.exp does", () => {
  expect(fastExp(0)).toBe(1);
  expect(fastExp(-0)).toBe(1);
  expect(fastExp(Number.NEGATIVE_INFINITY)).toBe(0);
  expect(fastExp(-1000)).toBe(0);
  expect(fastExp(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  expect(fastExp(710)).toBe(Number.POSITIVE_INFINITY);
  expect(fastExp(Number.NaN)).toBeNaN();
  // Deep in the subnormal range the result keeps only a few bits; it still falls, and stays >= 0.
  expect(fastExp(-740)).toBeGreaterThan(fastExp(-744));
  expect(fastExp(-744)).toBeGreaterThanOrEqual(0);
});
