/*
 * Arithmetic as in the JS references: double where JS computes in double, rounded to float where
 * JS stores into a Float32Array or calls Math.fround. exp is our own double exp below (within
 * 2 ulp of a double, so the results agree with the references to float rounding:
 * test/kernels/native-mixer.test.ts); unlike libm's it has no call and no branch, so the loops
 * vectorise, and target_clones builds them for AVX-512, AVX2 and the baseline.
 */
#include "mixer_ops.h"

/* Activations are finite. Saying so lets fmin/fmax (the clamp below) become min/max instructions,
 * which the vectoriser needs; nothing else here depends on NaN or infinity semantics. */
#pragma GCC optimize("finite-math-only")

#include <math.h>

#include "sum_of_squares.h"
#include <stddef.h>

#include <stdint.h>
#include <string.h>

#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))


void trine_rmsnorm_rows(const float *x, const float *gain, double eps, int rows, int n, float *out) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * (size_t)n;
    float *yr = out + (size_t)r * (size_t)n;
    const double sumSquares = trine_sum_of_squares(xr, n);
    const float rstd = (float)(1.0 / sqrt((double)(float)(sumSquares / n) + eps));
    for (int j = 0; j < n; j++) yr[j] = (xr[j] * rstd) * gain[j];
  }
}

/* From here on (the exp-based steps only: the norm above must stay bit-identical to rmsnorm.ts)
 * a * b + c may become one fused multiply-add where the CPU has one. The Horner steps of the exp
 * were ~80% of these steps' instructions and the multiplier their bottleneck (~14 cycles an
 * element); fused, the recurrence takes 3.8 us a 1024-wide row instead of 5.5 and silu(a) * b 2.5
 * instead of 4.0 (best of 2000). A fused step rounds once instead of twice, so the results move
 * by at most a double's last bit before they are rounded to float: they still agree with the JS
 * references to float rounding (test/kernels/native-mixer.test.ts). */
#pragma GCC optimize("fp-contract=fast")

/*
 * e^x for |x| <= 708: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 split in two so n ln2 is
 * exact), e^r by its Taylor series to r^13 (error < 2^-60 on that range), times 2^n built in the
 * exponent bits. Inputs are clamped first; e^-708 already makes sigmoid and silu 0 or x.
 */
static inline __attribute__((always_inline)) double exp_vectorisable(double x) {
  x = fmin(fmax(x, -708.0), 708.0);
  const double shifter = 0x1.8p52; /* adding it rounds to an integer held in the low mantissa bits */
  const double t = x * 0x1.71547652b82fep0 + shifter;
  const double n = t - shifter;
  const double r = (x - n * 0x1.62e42fefa3800p-1) - n * 0x1.ef35793c7673p-45;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  uint64_t bits;
  memcpy(&bits, &t, sizeof bits);
  const uint64_t scaleBits = (bits + 1023) << 52;
  double scale;
  memcpy(&scale, &scaleBits, sizeof scale);
  return p * scale;
}

static inline __attribute__((always_inline)) double sigmoid(double x) { return 1.0 / (1.0 + exp_vectorisable(-x)); }
static inline __attribute__((always_inline)) double silu(double x) { return x / (1.0 + exp_vectorisable(-x)); }

/* One row of the recurrence; `restrict` and the branch-free body let the compiler vectorise it. A
 * layer without a lower bound passes zeros, which leave f unchanged exactly (0 + 1 * f). */
static inline __attribute__((always_inline)) void recurrence_row(const float *restrict forget, const float *restrict input,
                                  const float *restrict normalizedGate, const float *restrict lowerBound, int d,
                                  float *restrict state, float *restrict out) {
  for (int j = 0; j < d; j++) {
    const double f = lowerBound[j] + (1.0 - lowerBound[j]) * sigmoid(forget[j]);
    const double i = silu(input[j]) * (1.0 - f);
    const float s = (float)(f * state[j] + i);
    state[j] = s;
    /* The gate is normalised and the state is swished, not the other way round. */
    out[j] = (float)(normalizedGate[j] * silu(s));
  }
}

VECTOR_CLONES void trine_gated_recurrence(const float *forget, const float *input, const float *normalizedGate,
                                          const float *lowerBound, int rows, int d, float *states,
                                          const int32_t *sequenceOfRow, float *out, float *zeros) {
  const float *bound = lowerBound ? lowerBound : zeros;
  for (int r = 0; r < rows; r++) {
    const size_t base = (size_t)r * (size_t)d;
    recurrence_row(forget + base, input + base, normalizedGate + base, bound, d,
                   states + (size_t)sequenceOfRow[r] * (size_t)d, out + base);
  }
}

VECTOR_CLONES void trine_gated_recurrence_rows(const float *forget, const float *input, const float *normalizedGate,
                                               const float *lowerBound, int rows, int d, float *const *stateOfRow,
                                               size_t stateOffset, float *out, float *zeros) {
  const float *bound = lowerBound ? lowerBound : zeros;
  for (int r = 0; r < rows; r++) {
    const size_t base = (size_t)r * (size_t)d;
    recurrence_row(forget + base, input + base, normalizedGate + base, bound, d, stateOfRow[r] + stateOffset,
                   out + base);
  }
}

VECTOR_CLONES void trine_gated_recurrence_slice(const float *forget, const float *input, const float *normalizedGate,
                                                const float *lowerBound, int rows, int d, int j0, int width,
                                                float *const *stateOfRow, size_t stateOffset, float *out, float *zeros) {
  const float *bound = lowerBound ? lowerBound : zeros;
  for (int r = 0; r < rows; r++) {
    const size_t base = (size_t)r * (size_t)d + (size_t)j0;
    recurrence_row(forget + base, input + base, normalizedGate + base, bound + j0, width,
                   stateOfRow[r] + stateOffset + j0, out + base);
  }
}

VECTOR_CLONES void trine_swiglu(const float *gateAndValue, int rows, int intermediate, float *hidden) {
  for (int r = 0; r < rows; r++) {
    const float *a = gateAndValue + (size_t)r * 2 * (size_t)intermediate;
    float *h = hidden + (size_t)r * (size_t)intermediate;
    for (int k = 0; k < intermediate; k++) h[k] = (float)(silu(a[k]) * a[intermediate + k]);
  }
}
