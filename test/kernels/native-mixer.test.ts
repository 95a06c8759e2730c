import { describe, expect, it } from "vitest";
import { swiGlu } from "../../src/engine/glu.js";
import { createNativeKernel, nativeKernelPaths } from "../../src/engine/kernels/native.js";
import { gatedRecurrence } from "../../src/engine/mlgru.js";
import { rmsnorm } from "../../src/engine/rmsnorm.js";

const available = nativeKernelPaths().length > 0;
if (process.env.TRINE_REQUIRE_NATIVE === "1" && !available) createNativeKernel();

function randomFloats(n: number, seed: number, magnitude = 4): Float32Array {
  let state = seed | 1;
  return Float32Array.from({ length: n }, () => {
    state = (Math.imul(state, 48271) + 1) | 0;
    return ((state >>> 8) / 16777216 - 0.5) * magnitude;
  });
}

/** Largest |a - b| relative to the largest |b|: float rounding is ~6e-8. */
function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let k = 0; k < b.length; k++) {
    diff = Math.max(diff, Math.abs(a[k] - b[k]));
    scale = Math.max(scale, Math.abs(b[k]));
  }
  return diff / scale;
}

/**
 * The native elementwise steps against their JS references on random rows of awkward sizes.
 * rmsnorm is exact; the steps with exp agree to float rounding (libm's exp and V8's may differ in
 * a double's last bit).
 */
describe.skipIf(!available)("native elementwise layer steps", () => {
  const kernel = available ? createNativeKernel() : undefined;

  it.each([
    [1, 1],
    [3, 65],
    [7, 1000],
    [16, 1024],
  ])("rmsnorm of %i rows of %i is bit-identical", (rows, n) => {
    const x = randomFloats(rows * n, rows * 31 + n);
    const gain = randomFloats(n, 7, 1);
    const expected = new Float32Array(rows * n);
    rmsnorm(x, gain, 1e-6, rows, n, expected);
    const actual = new Float32Array(rows * n);
    kernel!.rmsnorm!(x, gain, 1e-6, rows, n, actual);
    expect(actual).toEqual(expected);
  });

  it.each([
    [1, 64, [0]],
    [5, 100, [0, 1, 2, 3, 4]],
    [9, 33, [0, 0, 0, 1, 1, 2, 2, 2, 2]],
  ])(
    "the gated recurrence of %i rows of width %i matches, rows of one sequence in order",
    (rows, d, sequenceOfRow) => {
      const sequences = Math.max(...sequenceOfRow) + 1;
      const forget = randomFloats(rows * d, 1, 12);
      const input = randomFloats(rows * d, 2, 12);
      const gate = randomFloats(rows * d, 3);
      const lowerBound = randomFloats(d, 4, 1).map(Math.abs);
      for (const bound of [lowerBound, undefined]) {
        const jsStates = Array.from({ length: sequences }, (_, s) => randomFloats(d, 10 + s));
        const stacked = new Float32Array(sequences * d);
        for (const [s, state] of jsStates.entries()) stacked.set(state, s * d);
        const expected = new Float32Array(rows * d);
        gatedRecurrence(forget, input, gate, bound, rows, d, jsStates, 0, sequenceOfRow, expected);
        const actual = new Float32Array(rows * d);
        kernel!.gatedRecurrence!(
          forget,
          input,
          gate,
          bound ?? null,
          rows,
          d,
          stacked,
          sequences,
          Int32Array.from(sequenceOfRow),
          actual,
        );
        expect(maxRelativeError(actual, expected)).toBeLessThan(1e-6);
        for (const [s, state] of jsStates.entries())
          expect(maxRelativeError(stacked.subarray(s * d, (s + 1) * d), state)).toBeLessThan(1e-6);
      }
    },
  );

  it("silu(a) * b matches", () => {
    const rows = 6;
    const I = 777;
    const ab = randomFloats(rows * 2 * I, 5, 20);
    const expected = new Float32Array(rows * I);
    swiGlu(ab, rows, I, expected);
    const actual = new Float32Array(rows * I);
    kernel!.swiGlu!(ab, rows, I, actual);
    expect(maxRelativeError(actual, expected)).toBeLessThan(1e-6);
  });

  it("refuses a row that names a sequence out of range", () => {
    const d = 8;
    const z = new Float32Array(d);
    expect(() =>
      kernel!.gatedRecurrence!(z, z, z, null, 1, d, new Float32Array(d), 1, Int32Array.from([3]), z),
    ).toThrow(RangeError);
  });
});
