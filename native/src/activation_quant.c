/*
 * Every operation here mirrors the JS reference operation for operation, in the same precision
 * (the sum of squares in double, products rounded to float), so that the native BitLinear and
 * the reference agree bit for bit: a quantiser turns a last-bit difference into a whole step.
 * binding.gyp compiles with -ffp-contract=off so no multiply-add is fused behind our back.
 *
 * A decode step quantises ~150 rows, and in plain C this was a fifth of a 370M step (7 cycles an
 * element: GCC vectorises neither the max nor the rounding); the AVX-512 version below does the
 * same IEEE operations sixteen lanes at a time (test/kernels/native-bitlinear.test.ts holds it to
 * the JS composition bit for bit).
 */
#include "activation_quant.h"

#include <math.h>
#include <string.h>

#include "kernels.h"
#include "sum_of_squares.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/* rstd exactly as rmsnorm.ts computes it. */
static float row_rstd(double sumSquares, int n) {
  return (float)(1.0 / sqrt((double)(float)(sumSquares / n) + TRINE_BITLINEAR_EPS));
}

/* As JS: Math.fround(127 / Math.fround(Math.max(maxAbs, 1e-5))). */
static float activation_scale(float maxAbs) {
  const float floor = (float)((double)maxAbs > 1e-5 ? (double)maxAbs : 1e-5);
  return (float)(127.0 / (double)floor);
}

static float quantize_portable(const float *x, const float *gain, int n, int paddedCols, int8_t *q, float *normalized) {
  const float rstd = row_rstd(trine_sum_of_squares(x, n), n);
  float maxAbs = 0;
  for (int j = 0; j < n; j++) {
    const float u = (x[j] * rstd) * gain[j];
    normalized[j] = u;
    const float a = fabsf(u);
    if (a > maxAbs) maxAbs = a;
  }
  const float scale = activation_scale(maxAbs);
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

#if defined(__x86_64__) || defined(__i386__)
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

/* The four chains of trine_sum_of_squares as the four lanes of one vector: lane k adds the
 * elements j = k mod 4 in the same order, so the sums are the same doubles. */
AVX512 static double sum_of_squares_avx512(const float *x, int n) {
  __m256d chains = _mm256_setzero_pd();
  int j = 0;
  for (; j + 3 < n; j += 4) {
    const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + j));
    chains = _mm256_add_pd(chains, _mm256_mul_pd(v, v));
  }
  double s[4];
  _mm256_storeu_pd(s, chains);
  for (; j < n; j++) s[0] += (double)x[j] * (double)x[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

AVX512 static float quantize_avx512(const float *x, const float *gain, int n, int paddedCols, int8_t *q, float *normalized) {
  const __m512 rstd = _mm512_set1_ps(row_rstd(sum_of_squares_avx512(x, n), n));
  const __m512i signless = _mm512_set1_epi32(0x7fffffff);
  __m512 maxAbs = _mm512_setzero_ps();
  for (int j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
    const __m512 u = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), rstd), _mm512_maskz_loadu_ps(m, gain + j));
    _mm512_mask_storeu_ps(normalized + j, m, u);
    /* max(a, m) keeps m when a is NaN, as `if (a > maxAbs)` does. */
    maxAbs = _mm512_max_ps(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(u), signless)), maxAbs);
  }
  const float scale = activation_scale(_mm512_reduce_max_ps(maxAbs));
  const __m512 scales = _mm512_set1_ps(scale);
  const __m512 half = _mm512_set1_ps(0.5f), minusHalf = _mm512_set1_ps(-0.5f);
  const __m512i one = _mm512_set1_epi32(1), low = _mm512_set1_epi32(-128), high = _mm512_set1_epi32(127);
  for (int j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
    const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, normalized + j), scales);
    /* Truncation gives 0x80000000 for NaN, as the scalar conversion does on x86. */
    __m512i v = _mm512_cvttps_epi32(p);
    const __m512 fraction = _mm512_sub_ps(p, _mm512_cvtepi32_ps(v));
    v = _mm512_mask_add_epi32(v, _mm512_cmp_ps_mask(fraction, half, _CMP_GE_OQ), v, one);
    v = _mm512_mask_sub_epi32(v, _mm512_cmp_ps_mask(fraction, minusHalf, _CMP_LE_OQ), v, one);
    v = _mm512_min_epi32(_mm512_max_epi32(v, low), high);
    _mm512_mask_cvtepi32_storeu_epi8(q + j, m, v);
  }
  memset(q + n, 0, (size_t)(paddedCols - n));
  return scale;
}

#endif

float trine_rmsnorm_quantize_row(const float *x, const float *gain, int n, int paddedCols, int8_t *q,
                                 float *normalized) {
#if defined(__x86_64__) || defined(__i386__)
  if (trine_has_avx512()) return quantize_avx512(x, gain, n, paddedCols, q, normalized);
#endif
  return quantize_portable(x, gain, n, paddedCols, q, normalized);
}
