/**
 * rmsnorm(x, g, eps) = x / sqrt(mean(x^2) + eps) * g, over `rows` consecutive vectors of length n.
 * The mean is accumulated in float64 and the reciprocal rounded to float32, as the original's
 * fp32 kernel computes rstd once per row.
 */
export function rmsnorm(
  x: Float32Array,
  gain: Float32Array,
  eps: number,
  rows: number,
  n: number,
  out: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let sumSquares = 0;
    for (let j = 0; j < n; j++) sumSquares += x[base + j] * x[base + j];
    const rstd = Math.fround(1 / Math.sqrt(Math.fround(sumSquares / n) + eps));
    for (let j = 0; j < n; j++) out[base + j] = Math.fround(x[base + j] * rstd) * gain[j];
  }
}
