import type { ModelConfig } from "./config.js";
import type { PackedTernary } from "./ternary.js";

/**
 * The model as plain data (MODEL.md, "Tensors"). Every array may be a view on a
 * SharedArrayBuffer, so one copy of the weights serves every worker thread.
 */

/** A BitLinear layer at inference: ternary weights plus the gain of its own RMSNorm. */
export interface BitLinearWeights {
  readonly weights: PackedTernary;
  /** [in]: the `.norm.weight` applied before activation quantisation. */
  readonly normGain: Float32Array;
}

/** The embedding stays in its stored float format: it is a row lookup, not a product. */
export type Embedding =
  | { readonly dtype: "F32"; readonly values: Float32Array }
  | { readonly dtype: "F16" | "BF16"; readonly values: Uint16Array };

export interface LayerWeights {
  readonly attnNorm: Float32Array;
  readonly iProj: BitLinearWeights;
  readonly fProj: BitLinearWeights;
  readonly gProj: BitLinearWeights;
  readonly gNorm: Float32Array;
  readonly oProj: BitLinearWeights;
  readonly mlpNorm: Float32Array;
  /** [2I, d]: outputs 0..I-1 are the gate a, I..2I-1 the value b. */
  readonly gateProj: BitLinearWeights;
  readonly downProj: BitLinearWeights;
}

export interface Model {
  readonly config: ModelConfig;
  readonly embedding: Embedding;
  /** The stored `model.lower_bounds` [L, d], kept so a packed file can carry them as given. */
  readonly lowerBoundLogits: Float32Array;
  /** [L, d]: the forget-gate floors derived from lowerBoundLogits once at load (lower-bounds.ts). */
  readonly lowerBounds: Float32Array;
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Float32Array;
  readonly lmHead: BitLinearWeights;
}
