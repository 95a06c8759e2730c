import type { Model } from "../model.js";
import type { PackedTernary } from "../ternary.js";

/**
 * The BitLinear inner loop: integer products of int8 activations with packed ternary weights.
 *
 * `activations` holds `batch` rows of `w.paddedCols` int8 values (row b at b * w.paddedCols;
 * padding columns must be 0). The kernel writes `accumulators[b * w.rows + r]` =
 * sum over c < w.cols of T[r, c] * activations[b, c], exactly (int32; |sum| < 128 * cols).
 * Every implementation must give bit-identical results to the reference kernel.
 */
export interface EngineKernel {
  readonly name: string;
  ternaryMatmul(w: PackedTernary, activations: Int8Array, batch: number, accumulators: Int32Array): void;
  /**
   * Optional: the whole BitLinear fused in one call (RMSNorm with `normGain`, int8 quantisation
   * per row, the ternary product, the output scale) for `rows` rows of x [rows, w.cols] into
   * y [rows, w.rows]. It must equal bit for bit the composition in bit-linear.ts, which is used
   * when a kernel leaves it out; fusing saves the JS passes over every row.
   */
  bitLinear?(w: PackedTernary, normGain: Float32Array, x: Float32Array, rows: number, y: Float32Array): void;
  /**
   * Optional fast versions of a layer's elementwise steps, with the signatures of their JS
   * references (rmsnorm.ts, mlgru.ts gatedRecurrence, glu.ts swiGlu) except that the recurrence
   * takes this layer's states stacked [sequences, d]. Each must agree with its reference to within
   * float rounding (libm's exp may differ from V8's in a double's last bit).
   */
  rmsnorm?(
    x: Float32Array,
    gain: Float32Array,
    eps: number,
    rows: number,
    n: number,
    out: Float32Array,
  ): void;
  gatedRecurrence?(
    forget: Float32Array,
    input: Float32Array,
    normalizedGate: Float32Array,
    lowerBound: Float32Array | null,
    rows: number,
    d: number,
    states: Float32Array,
    sequences: number,
    sequenceOfRow: Int32Array,
    out: Float32Array,
  ): void;
  swiGlu?(gateAndValue: Float32Array, rows: number, intermediate: number, hidden: Float32Array): void;
  /**
   * Optional: the sampler's weights, weights[c] = exp((logits[c] - maxLogit) / temperature) for
   * the candidates c = candidates[0 .. count), returning their sum in candidate order. It must
   * equal bit for bit samplingWeights in sampler.ts (exp.ts's fastExp, not Math.exp), which is
   * used when a kernel leaves it out: seeded draws must not depend on the kernel.
   */
  samplingWeights?(
    logits: Float32Array,
    candidates: Int32Array,
    count: number,
    maxLogit: number,
    temperature: number,
    weights: Float64Array,
  ): number;
  /**
   * Optional: everything forward() does after the embedding, in one call: every layer, the final
   * norm and lm_head. `x` [rows, d] holds the embedded rows and is advanced in place; row r
   * advances `states[sequenceOfRow[r]]` (a sequence's whole [L, d] state); `logits` [wanted, V]
   * receives the rows `logitRows[0..wanted)`. It must equal bit for bit forward()'s own
   * composition of this kernel's steps, which is used when a kernel leaves it out (forward.ts).
   */
  forwardLayers?(
    model: Model,
    x: Float32Array,
    rows: number,
    states: readonly Float32Array[],
    sequenceOfRow: Int32Array,
    logitRows: Int32Array,
    wanted: number,
    logits: Float32Array,
  ): void;
}
