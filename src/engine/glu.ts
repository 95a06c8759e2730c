import { silu } from "./activations.js";
import { bitLinear } from "./bit-linear.js";
import type { EngineKernel } from "./kernels/kernel.js";
import type { LayerWeights } from "./model.js";
import type { Workspace } from "./workspace.js";

/**
 * The GLU channel mixer (MODEL.md): [a | b] = BitLinear_gate(h); down(silu(a) * b).
 * Writes the result [rows, d] into `out`.
 */
export function glu(
  layer: LayerWeights,
  h: Float32Array,
  rows: number,
  out: Float32Array,
  kernel: EngineKernel,
  ws: Workspace,
): void {
  const I = layer.downProj.weights.cols;
  const gateAndValue = ws.float("glu.ab", rows * 2 * I);
  bitLinear(layer.gateProj, h, rows, gateAndValue, kernel, ws);
  const hidden = ws.float("glu.hidden", rows * I);
  (kernel.swiGlu ?? swiGlu)(gateAndValue, rows, I, hidden);
  bitLinear(layer.downProj, hidden, rows, out, kernel, ws);
}

/** silu(a) * b for each row of [a | b] (2I values) into I values. */
export function swiGlu(gateAndValue: Float32Array, rows: number, I: number, hidden: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const a = r * 2 * I;
    for (let k = 0; k < I; k++) hidden[r * I + k] = silu(gateAndValue[a + k]) * gateAndValue[a + I + k];
  }
}
