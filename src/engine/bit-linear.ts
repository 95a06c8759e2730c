import { BITLINEAR_NORM_EPS } from "./config.js";
import type { EngineKernel } from "./kernels/kernel.js";
import type { BitLinearWeights } from "./model.js";
import { quantizeActivations } from "./quantize.js";
import { rmsnorm } from "./rmsnorm.js";
import type { Workspace } from "./workspace.js";

/**
 * BitLinear (MODEL.md): y = (q . T^T) / (s_x * s_w) for `rows` input vectors x [rows, in].
 * The integer product runs in the kernel; the float work here is the norm, the per-token
 * quantisation and one multiply per output.
 */
export function bitLinear(
  layer: BitLinearWeights,
  x: Float32Array,
  rows: number,
  y: Float32Array,
  kernel: EngineKernel,
  ws: Workspace,
): void {
  const { weights } = layer;
  if (kernel.bitLinear) {
    kernel.bitLinear(weights, layer.normGain, x, rows, y);
    return;
  }
  const inFeatures = weights.cols;
  const stride = weights.paddedCols;
  const normalized = ws.normalized(rows * inFeatures);
  rmsnorm(x, layer.normGain, BITLINEAR_NORM_EPS, rows, inFeatures, normalized);
  const activations = ws.activations(rows * stride);
  const activationScales = ws.activationScales(rows);
  for (let r = 0; r < rows; r++) {
    activationScales[r] = quantizeActivations(
      normalized,
      r * inFeatures,
      inFeatures,
      activations,
      r * stride,
    );
    // Padding columns must read as zero whatever an earlier, wider call left there.
    activations.fill(0, r * stride + inFeatures, (r + 1) * stride);
  }
  const accumulators = ws.accumulators(rows * weights.rows);
  kernel.ternaryMatmul(weights, activations, rows, accumulators);
  for (let r = 0; r < rows; r++) {
    // Rounded to float32 once per row, so a fused kernel can apply the same scale to int32 sums.
    const outScale = Math.fround(weights.weightScale / activationScales[r]);
    const base = r * weights.rows;
    for (let o = 0; o < weights.rows; o++) y[base + o] = accumulators[base + o] * outScale;
  }
}
