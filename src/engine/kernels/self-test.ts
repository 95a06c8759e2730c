import { type PackedTernary, packTernary, paddedColumns } from "../ternary.js";
import type { EngineKernel } from "./kernel.js";
import { referenceKernel } from "./reference.js";

/**
 * The start-up self-test every fast kernel passes before it is used (select.ts; wasm.ts for its
 * relaxed-SIMD flavour, whose instructions V8 11.3 computed wrongly): random problems of ragged
 * shapes [rows, cols, batch] (one row, one column, sizes off every multiple of 4, 16, 64 and 256,
 * batches off the 4-row tiles, both batch-1 row paths, 17 blocks of int16 partial sums, one long
 * row that pushes them to their limit), then the extremes of the sums: all weights +1 against
 * activations all -128 and all 127.
 */
const SELF_TEST_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [3, 300, 1],
  [7, 300, 1],
  [13, 517, 5],
  [5, 600, 5],
  [5, 4100, 3],
  [2, 4300, 4],
  [37, 70, 17],
];

/** Deterministic (mulberry32) so that a start-up failure can be reproduced. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Problem {
  readonly weights: PackedTernary;
  readonly activations: Int8Array;
  readonly batch: number;
}

function problem(ternary: Int8Array, rows: number, cols: number, batch: number, x: () => number): Problem {
  const weights: PackedTernary = {
    rows,
    cols,
    paddedCols: paddedColumns(cols),
    codes: packTernary(ternary, rows, cols),
    weightScale: 1,
  };
  const activations = new Int8Array(batch * weights.paddedCols);
  for (let b = 0; b < batch; b++)
    for (let c = 0; c < cols; c++) activations[b * weights.paddedCols + c] = x();
  return { weights, activations, batch };
}

function* selfTestProblems(): Generator<Problem> {
  const random = mulberry32(0x7269e);
  for (const [rows, cols, batch] of SELF_TEST_SHAPES) {
    const ternary = Int8Array.from({ length: rows * cols }, () => Math.floor(random() * 3) - 1);
    // A third of the activations sit at the int8 extremes, where overflow and sign bugs live.
    yield problem(ternary, rows, cols, batch, () => {
      const u = random();
      return u < 0.17 ? -128 : u < 0.34 ? 127 : Math.floor(random() * 256) - 128;
    });
  }
  for (const extreme of [-128, 127])
    yield problem(new Int8Array(2 * 4300).fill(1), 2, 4300, 5, () => extreme);
}

/** Compares `kernel` with the reference on the self-test problems; returns the first mismatch. */
export function selfTestKernel(kernel: EngineKernel): string | undefined {
  for (const { weights, activations, batch } of selfTestProblems()) {
    const expected = new Int32Array(batch * weights.rows);
    referenceKernel.ternaryMatmul(weights, activations, batch, expected);
    const actual = new Int32Array(batch * weights.rows).fill(0x5a5a5a5a);
    kernel.ternaryMatmul(weights, activations, batch, actual);
    const at = actual.findIndex((value, i) => value !== expected[i]);
    if (at >= 0) {
      return `${weights.rows}x${weights.cols} batch ${batch}: accumulator ${at} is ${actual[at]}, reference gives ${expected[at]}`;
    }
  }
  return undefined;
}
