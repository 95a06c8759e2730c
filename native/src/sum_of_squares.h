/* sum x[j]^2 in double, in the order of src/engine/rmsnorm.ts sumOfSquares: four interleaved partial
 * sums combined as (s0 + s1) + (s2 + s3), so native and JS norms agree bit for bit. */
#ifndef TRINE_SUM_OF_SQUARES_H
#define TRINE_SUM_OF_SQUARES_H

static inline double trine_sum_of_squares(const float *x, int n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += (double)x[j] * (double)x[j];
    s1 += (double)x[j + 1] * (double)x[j + 1];
    s2 += (double)x[j + 2] * (double)x[j + 2];
    s3 += (double)x[j + 3] * (double)x[j + 3];
  }
  for (; j < n; j++) s0 += (double)x[j] * (double)x[j];
  return (s0 + s1) + (s2 + s3);
}

#endif
