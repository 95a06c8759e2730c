/**
 * BitLinear quantisation (MODEL.md, BitLinear steps 2 and 3). Arithmetic is rounded to float32
 * where the original rounds, because a quantiser turns a last-bit difference into a whole step.
 */

const ACTIVATION_LEVELS = 127;
/** Both scales divide by max(., 1e-5) so an all-zero input does not divide by zero. */
const SCALE_FLOOR = 1e-5;

/** Ties away from zero: the original's Triton kernel rounds activations with libdevice round(). */
export function roundHalfAwayFromZero(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** Ties to even: torch.round, which the original uses for weights. */
export function roundHalfToEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per-token int8 quantisation of `u` (already RMS-normalised) into `q`; returns s_x.
 * q = clamp(round(u * s_x), -128, 127) with s_x = 127 / max(max|u|, 1e-5).
 */
export function quantizeActivations(
  u: Float32Array,
  offset: number,
  length: number,
  q: Int8Array,
  qOffset: number,
): number {
  let maxAbs = 0;
  for (let j = 0; j < length; j++) {
    const a = Math.abs(u[offset + j]);
    if (a > maxAbs) maxAbs = a;
  }
  const scale = Math.fround(ACTIVATION_LEVELS / Math.fround(Math.max(maxAbs, SCALE_FLOOR)));
  for (let j = 0; j < length; j++) {
    const v = roundHalfAwayFromZero(Math.fround(u[offset + j] * scale));
    q[qOffset + j] = Math.min(127, Math.max(-128, v));
  }
  return scale;
}

/**
 * Per-tensor ternarisation of latent weights: T = clamp(round(W * s_w), -1, 1) with
 * s_w = 1 / max(mean|W|, 1e-5). Returns T and mean|W| (= 1 / s_w), the scale kept at run time.
 */
export function ternarizeWeights(latent: Float32Array): { ternary: Int8Array; weightScale: number } {
  // Float64 accumulation: close to PyTorch's pairwise float32 mean, far closer than a naive
  // float32 running sum over millions of weights.
  let sumAbs = 0;
  for (let k = 0; k < latent.length; k++) sumAbs += Math.abs(latent[k]);
  const meanAbs = Math.fround(Math.max(Math.fround(sumAbs / latent.length), SCALE_FLOOR));
  const scale = Math.fround(1 / meanAbs);
  const ternary = new Int8Array(latent.length);
  for (let k = 0; k < latent.length; k++) {
    const t = roundHalfToEven(Math.fround(latent[k] * scale));
    ternary[k] = Math.min(1, Math.max(-1, t));
  }
  return { ternary, weightScale: meanAbs };
}
