/*
 * Every operation here mirrors the JS reference operation for operation, in the same precision
 * (the sum of squares in double, products rounded to float), so that the native BitLinear and
 * the reference agree bit for bit: a quantiser turns a last-bit difference into a whole step.
 * binding.gyp compiles with -ffp-contract=off so no multiply-add is fused behind our back.
 */
#include "activation_quant.h"

#include <math.h>

#include "sum_of_squares.h"
#include <string.h>

float trine_rmsnorm_quantize_row(const float *x, const float *gain, int n, int paddedCols, int8_t *q,
                                 float *normalized) {
  const double sumSquares = trine_sum_of_squares(x, n);
  const float rstd = (float)(1.0 / sqrt((double)(float)(sumSquares / n) + TRINE_BITLINEAR_EPS));
  float maxAbs = 0;
  for (int j = 0; j < n; j++) {
    const float u = (x[j] * rstd) * gain[j];
    normalized[j] = u;
    const float a = fabsf(u);
    if (a > maxAbs) maxAbs = a;
  }
  /* As JS: Math.fround(127 / Math.fround(Math.max(maxAbs, 1e-5))). */
  const float floor = (float)((double)maxAbs > 1e-5 ? (double)maxAbs : 1e-5);
  const float scale = (float)(127.0 / (double)floor);
  for (int j = 0; j < n; j++) {
    /* Ties away from zero, like the original's kernel. Not roundf: a libm call per element, and
     * not (int)(p + 0.5f), which misrounds 0.49999997. |p| <= 127.5, so int conversion is safe. */
    const float p = normalized[j] * scale;
    int v = (int)p;
    const float fraction = p - (float)v;
    v += (fraction >= 0.5f) - (fraction <= -0.5f);
    q[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
  }
  memset(q + n, 0, (size_t)(paddedCols - n));
  return scale;
}
