/*
 * ARM64 NEON path. Codes are shifted down to 0..2, which is also a valid signed byte, so with the
 * dot-product extension (ARMv8.2 sdot) each instruction takes 16 ternary multiply-adds; baseline
 * ARMv8 widens through vmull/vmlal to int16 (at most 2 * 2 * 128 per lane) and pairwise-adds into
 * int32. One row at a time: this path is for portability, and was not compiled on the x86 machine
 * that measured the others (see docs/KERNELS.md).
 */
#include "kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

static inline int32x4_t accumulate(int32x4_t acc, int8x16_t codes, int8x16_t x) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, codes, x);
#else
  int16x8_t products = vmull_s8(vget_low_s8(codes), vget_low_s8(x));
  products = vmlal_high_s8(products, codes, x);
  return vpadalq_s16(acc, products);
#endif
}

static int32_t code_dot(const uint8_t *codes, const int8_t *x, int blocks) {
  const uint8x16_t mask = vdupq_n_u8(3);
  int32x4_t acc = vdupq_n_s32(0);
  for (int k = 0; k < blocks; k++) {
    const uint8_t *block = codes + (size_t)k * TRINE_BLOCK_BYTES;
    const int8_t *columns = x + (size_t)k * TRINE_BLOCK_COLUMNS;
    for (int q = 0; q < 4; q++) {
      const uint8x16_t v = vld1q_u8(block + 16 * q);
      const int8_t *xq = columns + 16 * q;
      acc = accumulate(acc, vreinterpretq_s8_u8(vandq_u8(v, mask)), vld1q_s8(xq));
      acc = accumulate(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), mask)), vld1q_s8(xq + 64));
      acc = accumulate(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), mask)), vld1q_s8(xq + 128));
      acc = accumulate(acc, vreinterpretq_s8_u8(vshrq_n_u8(v, 6)), vld1q_s8(xq + 192));
    }
  }
  return vaddvq_s32(acc);
}

void ternary_rows_neon(const ternary_job *job, int rowBegin, int rowEnd) {
  const int blocks = job->paddedCols / TRINE_BLOCK_COLUMNS;
  for (int r = rowBegin; r < rowEnd; r++) {
    const uint8_t *row = job->codes + (size_t)r * job->rowBytes;
    for (int b = 0; b < job->batch; b++) {
      trine_store(job, b, r, code_dot(row, job->activations + (size_t)b * job->paddedCols, blocks));
    }
  }
}
#endif
