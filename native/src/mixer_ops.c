/*
 * Arithmetic as in the JS references: double where JS computes in double, rounded to float where
 * JS stores into a Float32Array or calls Math.fround. exp is libm's double exp; V8's Math.exp can
 * differ from it in the last bit of a double, which survives the rounding to float only rarely,
 * so these agree with the references to within float rounding (test/kernels/native-mixer.test.ts).
 */
#include "mixer_ops.h"

#include <math.h>
#include <stddef.h>

static inline double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline double silu(double x) { return x / (1.0 + exp(-x)); }

void trine_rmsnorm_rows(const float *x, const float *gain, double eps, int rows, int n, float *out) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * (size_t)n;
    float *yr = out + (size_t)r * (size_t)n;
    double sumSquares = 0;
    for (int j = 0; j < n; j++) sumSquares += (double)xr[j] * (double)xr[j];
    const float rstd = (float)(1.0 / sqrt((double)(float)(sumSquares / n) + eps));
    for (int j = 0; j < n; j++) yr[j] = (xr[j] * rstd) * gain[j];
  }
}

void trine_gated_recurrence(const float *forget, const float *input, const float *normalizedGate,
                            const float *lowerBound, int rows, int d, float *states, const int32_t *sequenceOfRow,
                            float *out) {
  for (int r = 0; r < rows; r++) {
    float *state = states + (size_t)sequenceOfRow[r] * (size_t)d;
    const size_t base = (size_t)r * (size_t)d;
    for (int j = 0; j < d; j++) {
      double f = sigmoid(forget[base + j]);
      if (lowerBound) f = lowerBound[j] + (1.0 - lowerBound[j]) * f;
      const double i = silu(input[base + j]) * (1.0 - f);
      const float s = (float)(f * state[j] + i);
      state[j] = s;
      /* The gate is normalised and the state is swished, not the other way round. */
      out[base + j] = (float)(normalizedGate[base + j] * silu(s));
    }
  }
}

void trine_swiglu(const float *gateAndValue, int rows, int intermediate, float *hidden) {
  for (int r = 0; r < rows; r++) {
    const float *a = gateAndValue + (size_t)r * 2 * (size_t)intermediate;
    float *h = hidden + (size_t)r * (size_t)intermediate;
    for (int k = 0; k < intermediate; k++) h[k] = (float)(silu(a[k]) * a[intermediate + k]);
  }
}
