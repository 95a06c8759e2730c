import type { ModelConfig } from "./config.js";

/**
 * The whole per-sequence memory of the model: the MLGRU hidden state, d floats per layer
 * ([L, d]). It does not grow with the sequence, so saving, restoring or caching a sequence is
 * copying this array.
 */
export interface RecurrentState {
  readonly values: Float32Array;
  /** Tokens consumed so far (for bookkeeping; the math does not use it). */
  position: number;
}

export function createState(config: ModelConfig): RecurrentState {
  return { values: new Float32Array(config.numLayers * config.hiddenSize), position: 0 };
}

export function cloneState(state: RecurrentState): RecurrentState {
  return { values: state.values.slice(), position: state.position };
}

export function stateBytes(config: ModelConfig): number {
  return config.numLayers * config.hiddenSize * Float32Array.BYTES_PER_ELEMENT;
}
