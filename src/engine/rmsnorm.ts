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
    const sumSquares = sumOfSquares(x, base, n);
    const rstd = Math.fround(1 / Math.sqrt(Math.fround(sumSquares / n) + eps));
    for (let j = 0; j < n; j++) out[base + j] = Math.fround(x[base + j] * rstd) * gain[j];
  }
}

/**
 * sum x[j]^2 in float64, in four interleaved partial sums combined as (s0 + s1) + (s2 + s3): the
 * native kernels use the same order, so their norms match this one bit for bit, and four chains
 * instead of one let them run at the adder's throughput rather than its latency.
 */
export function sumOfSquares(x: Float32Array, offset: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += x[offset + j] * x[offset + j];
    s1 += x[offset + j + 1] * x[offset + j + 1];
    s2 += x[offset + j + 2] * x[offset + j + 2];
    s3 += x[offset + j + 3] * x[offset + j + 3];
  }
  for (; j < n; j++) s0 += x[offset + j] * x[offset + j];
  return s0 + s1 + (s2 + s3);
}
