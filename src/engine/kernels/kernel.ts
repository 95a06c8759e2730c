import type { PackedTernary } from "../ternary.js";

/**
 * The BitLinear inner loop: integer products of int8 activations with packed ternary weights.
 *
 * `activations` holds `batch` rows of `w.paddedCols` int8 values (row b at b * w.paddedCols;
 * padding columns must be 0). The kernel writes `accumulators[b * w.rows + r]` =
 * sum over c < w.cols of T[r, c] * activations[b, c], exactly (int32; |sum| < 128 * cols).
 * Every implementation must give bit-identical results to the reference kernel.
 */
export interface TernaryKernel {
  readonly name: string;
  ternaryMatmul(w: PackedTernary, activations: Int8Array, batch: number, accumulators: Int32Array): void;
}
