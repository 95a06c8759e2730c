/*
 * The sampler's weights, bit for bit as src/engine/sampling/exp.ts and sampler.ts compute them in
 * JS (the same double operations in the same order; binding.gyp's -ffp-contract=off keeps the
 * compiler from fusing any): V8 calls out of JIT code for every Math.exp, and even the table
 * method in JS costs ~9 ns an element, ~0.3 ms a token over a 32,000-token vocabulary. Eight
 * lanes of AVX-512 do the exps; the sum stays sequential, in candidate order, as the JS adds.
 */
#include "sampling_weights.h"

#include "kernels.h"

#include <math.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define STEPS 64
#define MIN_EXPONENT (-1075)
#define INTEGER_POWERS_LENGTH (1024 - MIN_EXPONENT)

static const double INV_STEP = 92.33248261689366;
static const double STEP_HIGH = 0.01083042468962958;
static const double STEP_LOW = 6.619564634077006e-12;
static const double UNDERFLOW = -745.2;
static const double OVERFLOW = 709.78;

/* 2^(j/64) as V8 computes 2 ** (j / 64) (the bit patterns, written out by a script). */
static const uint64_t FRACTION_POWER_BITS[STEPS] = {0x3ff0000000000000, 0x3ff02c9a3e778061, 0x3ff059b0d3158574, 0x3ff0874518759bc8, 0x3ff0b5586cf9890f, 0x3ff0e3ec32d3d1a2, 0x3ff11301d0125b51, 0x3ff1429aaea92de0, 0x3ff172b83c7d517b, 0x3ff1a35beb6fcb75, 0x3ff1d4873168b9aa, 0x3ff2063b88628cd6, 0x3ff2387a6e756238, 0x3ff26b4565e27cdd, 0x3ff29e9df51fdee1, 0x3ff2d285a6e4030b, 0x3ff306fe0a31b715, 0x3ff33c08b26416ff, 0x3ff371a7373aa9cb, 0x3ff3a7db34e59ff7, 0x3ff3dea64c123422, 0x3ff4160a21f72e2a, 0x3ff44e086061892d, 0x3ff486a2b5c13cd0, 0x3ff4bfdad5362a27, 0x3ff4f9b2769d2ca7, 0x3ff5342b569d4f82, 0x3ff56f4736b527da, 0x3ff5ab07dd485429, 0x3ff5e76f15ad2148, 0x3ff6247eb03a5584, 0x3ff6623882552224, 0x3ff6a09e667f3bcd, 0x3ff6dfb23c651a2f, 0x3ff71f75e8ec5f74, 0x3ff75feb564267c8, 0x3ff7a11473eb0187, 0x3ff7e2f336cf4e62, 0x3ff82589994cce13, 0x3ff868d99b4492ec, 0x3ff8ace5422aa0dc, 0x3ff8f1ae99157736, 0x3ff93737b0cdc5e5, 0x3ff97d829fde4e50, 0x3ff9c49182a3f090, 0x3ffa0c667b5de565, 0x3ffa5503b23e255c, 0x3ffa9e6b5579fdbf, 0x3ffae89f995ad3ae, 0x3ffb33a2b84f15fb, 0x3ffb7f76f2fb5e47, 0x3ffbcc1e904bc1d2, 0x3ffc199bdd85529c, 0x3ffc67f12e57d14b, 0x3ffcb720dcef9069, 0x3ffd072d4a07897c, 0x3ffd5818dcfba487, 0x3ffda9e603db3286, 0x3ffdfc97337b9b5f, 0x3ffe502ee78b3ff6, 0x3ffea4afa2a490da, 0x3ffefa1bee615a28, 0x3fff50765b6e4540, 0x3fffa7c1819e90d8};

static double fraction_powers[STEPS];
static double integer_powers[INTEGER_POWERS_LENGTH];
static atomic_int tables_ready;

static void fill_tables(void) {
  if (atomic_load_explicit(&tables_ready, memory_order_acquire)) return;
  for (int j = 0; j < STEPS; j++) {
    union { uint64_t bits; double value; } power = {FRACTION_POWER_BITS[j]};
    fraction_powers[j] = power.value;
  }
  /* Exact powers of two (ldexp rounds 2^-1075 to 0, as 2 ** -1075 does in JS). */
  for (int i = 0; i < INTEGER_POWERS_LENGTH; i++) integer_powers[i] = ldexp(1.0, i + MIN_EXPONENT);
  atomic_store_explicit(&tables_ready, 1, memory_order_release);
}

/* exp.ts's fastExp. */
static double fast_exp(double x) {
  if (!(x > UNDERFLOW)) return isnan(x) ? x : 0.0;
  if (x > OVERFLOW) return INFINITY;
  const double y = x * INV_STEP;
  double n = floor(y);
  if (y - n >= 0.5) n += 1.0;
  const double r = x - n * STEP_HIGH - n * STEP_LOW;
  const int ni = (int)n;
  const int j = ni & (STEPS - 1);
  const int k = (ni - j) / STEPS;
  const double p =
      1 + r * (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720))))));
  return fraction_powers[j] * p * integer_powers[k - MIN_EXPONENT];
}

static double weights_portable(const float *logits, const int32_t *candidates, int from, int count,
                               double maxLogit, double temperature, double *weights, double total) {
  for (int i = from; i < count; i++) {
    const int32_t token = candidates[i];
    const double weight = fast_exp(((double)logits[token] - maxLogit) / temperature);
    weights[token] = weight;
    total += weight;
  }
  return total;
}

#if defined(__x86_64__) || defined(__i386__)
#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl")))

/* Lanes with x below this take the scalar fast_exp afterwards: their 2^k would be subnormal (a
 * table lookup there), or the exp underflows to 0. Above it 2^k is built from its bits. */
#define VECTOR_LOWEST (-700.0)

AVX512 static double weights_avx512(const float *logits, const int32_t *candidates, int count, double maxLogit,
                                    double temperature, double *weights, int *done) {
  const __m512d max = _mm512_set1_pd(maxLogit), t = _mm512_set1_pd(temperature);
  const __m512d invStep = _mm512_set1_pd(INV_STEP), high = _mm512_set1_pd(STEP_HIGH), low = _mm512_set1_pd(STEP_LOW);
  const __m512d half = _mm512_set1_pd(0.5), one = _mm512_set1_pd(1.0), lowest = _mm512_set1_pd(VECTOR_LOWEST);
  const __m512d c2 = _mm512_set1_pd(1.0 / 2), c3 = _mm512_set1_pd(1.0 / 6), c4 = _mm512_set1_pd(1.0 / 24);
  const __m512d c5 = _mm512_set1_pd(1.0 / 120), c6 = _mm512_set1_pd(1.0 / 720);
  const __m256i stepMask = _mm256_set1_epi32(STEPS - 1), iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i bias = _mm512_set1_epi64(1023);
  double total = 0;
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256i tokens = _mm256_loadu_si256((const __m256i *)(candidates + i));
    /* Usually the candidates are the whole vocabulary in order: plain loads and stores then. */
    const int32_t first = candidates[i];
    const int contiguous =
        _mm256_movemask_epi8(_mm256_cmpeq_epi32(tokens, _mm256_add_epi32(_mm256_set1_epi32(first), iota))) == -1;
    const __m256 l32 = contiguous ? _mm256_loadu_ps(logits + first) : _mm256_i32gather_ps(logits, tokens, 4);
    const __m512d x = _mm512_div_pd(_mm512_sub_pd(_mm512_cvtps_pd(l32), max), t);
    const __mmask8 far = _mm512_cmp_pd_mask(x, lowest, _CMP_LE_OQ);
    const __m512d xv = _mm512_mask_mov_pd(x, far, lowest);
    const __m512d y = _mm512_mul_pd(xv, invStep);
    __m512d n = _mm512_roundscale_pd(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    n = _mm512_mask_add_pd(n, _mm512_cmp_pd_mask(_mm512_sub_pd(y, n), half, _CMP_GE_OQ), n, one);
    const __m512d r = _mm512_sub_pd(_mm512_sub_pd(xv, _mm512_mul_pd(n, high)), _mm512_mul_pd(n, low));
    const __m256i ni = _mm512_cvtpd_epi32(n);
    const __m256i j = _mm256_and_si256(ni, stepMask);
    /* 2^k, k = ni >> 6 >= -1022 here: exactly the double with biased exponent k + 1023. */
    const __m512i k = _mm512_cvtepi32_epi64(_mm256_srai_epi32(ni, 6));
    const __m512d scale = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(k, bias), 52));
    __m512d p = _mm512_add_pd(c5, _mm512_mul_pd(r, c6));
    p = _mm512_add_pd(c4, _mm512_mul_pd(r, p));
    p = _mm512_add_pd(c3, _mm512_mul_pd(r, p));
    p = _mm512_add_pd(c2, _mm512_mul_pd(r, p));
    p = _mm512_add_pd(one, _mm512_mul_pd(r, p));
    p = _mm512_add_pd(one, _mm512_mul_pd(r, p));
    const __m512d fraction = _mm512_i32gather_pd(j, fraction_powers, 8);
    double lanes[8], xs[8];
    _mm512_storeu_pd(lanes, _mm512_mul_pd(_mm512_mul_pd(fraction, p), scale));
    if (far) {
      _mm512_storeu_pd(xs, x);
      for (int lane = 0; lane < 8; lane++)
        if (far & (1u << lane)) lanes[lane] = fast_exp(xs[lane]);
    }
    if (contiguous) {
      _mm512_storeu_pd(weights + first, _mm512_loadu_pd(lanes));
    } else {
      _mm512_i32scatter_pd(weights, tokens, _mm512_loadu_pd(lanes), 8);
    }
    for (int lane = 0; lane < 8; lane++) total += lanes[lane];
  }
  *done = i;
  return total;
}

#endif

double trine_sampling_weights(const float *logits, const int32_t *candidates, int count, double maxLogit,
                              double temperature, double *weights) {
  fill_tables();
  double total = 0;
  int done = 0;
#if defined(__x86_64__) || defined(__i386__)
  if (trine_has_avx512()) total = weights_avx512(logits, candidates, count, maxLogit, temperature, weights, &done);
#endif
  return weights_portable(logits, candidates, done, count, maxLogit, temperature, weights, total);
}
