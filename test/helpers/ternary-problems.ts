import { expect } from "vitest";
import type { EngineKernel } from "../../src/engine/kernels/kernel.js";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import { type PackedTernary, packTernary, paddedColumns } from "../../src/engine/ternary.js";

/** Random ternary products for the kernel tests, and their comparison with the reference kernel. */

/** xorshift32: data from a seed (a fast-check one), so that a failing case shrinks and replays. */
export function generator(seed: number): () => number {
  let state = seed | 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

export interface Problem {
  weights: PackedTernary;
  activations: Int8Array;
  batch: number;
}

/** `into`, when given, receives the codes (a view anywhere: a heap, a SharedArrayBuffer). */
export function randomProblem(
  rows: number,
  cols: number,
  batch: number,
  seed: number,
  into?: Uint8Array,
): Problem {
  const random = generator(seed);
  const ternary = new Int8Array(rows * cols);
  for (let i = 0; i < ternary.length; i++) ternary[i] = Math.floor(random() * 3) - 1;
  const paddedCols = paddedColumns(cols);
  const codes = packTernary(ternary, rows, cols, into);
  // A third of the activations at the int8 extremes, where saturation and sign bugs show.
  const activations = new Int8Array(batch * paddedCols);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < cols; c++) {
      const u = random();
      activations[b * paddedCols + c] = u < 0.17 ? -128 : u < 0.34 ? 127 : Math.floor(random() * 256) - 128;
    }
  }
  return { weights: { rows, cols, paddedCols, codes, weightScale: 1 }, activations, batch };
}

/** The reference kernel's sums for the problem. */
export function reference({ weights, activations, batch }: Problem): Int32Array {
  const expected = new Int32Array(batch * weights.rows);
  referenceKernel.ternaryMatmul(weights, activations, batch, expected);
  return expected;
}

/** The kernel's sums for the problem. */
export function run(kernel: EngineKernel, { weights, activations, batch }: Problem): Int32Array {
  // Garbage first, so a kernel that skips an output cannot pass on a zeroed array.
  const actual = new Int32Array(batch * weights.rows).fill(-0x5a5a5a5b);
  kernel.ternaryMatmul(weights, activations, batch, actual);
  return actual;
}

export function expectMatchesReference(kernel: EngineKernel, problem: Problem): void {
  expect(run(kernel, problem)).toEqual(reference(problem));
}
