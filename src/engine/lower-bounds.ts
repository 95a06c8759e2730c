import type { ModelConfig } from "./config.js";

/**
 * Per-layer forget-gate lower bounds (MODEL.md): lb = softmax(lower_bounds, over layers);
 * lb = cumsum(lb, over layers) - lb[0]. Layer 0 therefore gets 0, which leaves its gate as is.
 * Takes the stored `model.lower_bounds` [L, d]; returns [L, d], all zeros when the config turns
 * lower bounds off.
 */
export function deriveLowerBounds(config: ModelConfig, lowerBoundLogits: Float32Array): Float32Array {
  const { numLayers: L, hiddenSize: d, useLowerBound } = config;
  const bounds = new Float32Array(L * d);
  if (!useLowerBound) return bounds;
  for (let j = 0; j < d; j++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let l = 0; l < L; l++) max = Math.max(max, lowerBoundLogits[l * d + j]);
    let total = 0;
    for (let l = 0; l < L; l++) total += Math.exp(lowerBoundLogits[l * d + j] - max);
    let cumulative = 0;
    let first = 0;
    for (let l = 0; l < L; l++) {
      const p = Math.fround(Math.exp(lowerBoundLogits[l * d + j] - max) / total);
      if (l === 0) first = p;
      cumulative = Math.fround(cumulative + p);
      bounds[l * d + j] = cumulative - first;
    }
  }
  return bounds;
}
