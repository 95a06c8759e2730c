/*
 * AVX2 path: vpmaddubsw multiplies 32 unsigned codes by 32 signed activations into 16 int16 pair
 * sums. With codes shifted down to 0..2 a pair sum lies in [-512, 508], so the four bit pairs of a
 * 32-byte half block add up in [-2048, 2032] and sixteen half blocks still fit an int16 lane; only
 * then is the int16 accumulator widened (vpmaddwd by 1) into int32. That keeps the per-byte work at
 * 3 shifts, 4 ands, 4 vpmaddubsw and 4 adds.
 *
 * Batch 1 takes four far-apart weight rows per pass (as the AVX-512 path does, for the same
 * reason), so each activation vector is loaded once for all four; batches take one weight row
 * against up to four activation rows so each decoded code vector is reused four times (16 ymm
 * registers do not hold a wider tile).
 */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx2")))
#define INLINE static inline __attribute__((always_inline)) TARGET

/* Half blocks (32 code bytes) an int16 accumulator may absorb before it must be widened. */
#define HALF_BLOCKS_PER_WIDEN 16

INLINE int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

/* Sum over the four bit pairs of one 32-byte half block: int16 lanes in [-2048, 2032]. */
INLINE __m256i half_block_dot(__m256i v, const int8_t *x, __m256i mask) {
  const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(v, mask), _mm256_loadu_si256((const __m256i *)x));
  const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 2), mask),
                                          _mm256_loadu_si256((const __m256i *)(x + 64)));
  const __m256i p2 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), mask),
                                          _mm256_loadu_si256((const __m256i *)(x + 128)));
  const __m256i p3 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 6), mask),
                                          _mm256_loadu_si256((const __m256i *)(x + 192)));
  return _mm256_add_epi16(_mm256_add_epi16(p0, p1), _mm256_add_epi16(p2, p3));
}

/* Batch 1 for R rows, `step` rows apart from r0 (see kernel_avx512vnni.c for why far apart). */
INLINE void gemv_rows(const ternary_job *job, int r0, int step, const int R) {
  const __m256i mask = _mm256_set1_epi8(0x03), ones = _mm256_set1_epi16(1);
  const int halves = job->paddedCols / (TRINE_BLOCK_COLUMNS / 2);
  const uint8_t *w[4];
  __m256i acc32[4];
#pragma GCC unroll 4
  for (int i = 0; i < R; i++) {
    w[i] = job->codes + (size_t)(r0 + i * step) * job->rowBytes;
    acc32[i] = _mm256_setzero_si256();
  }
  for (int h0 = 0; h0 < halves; h0 += HALF_BLOCKS_PER_WIDEN) {
    const int h1 = h0 + HALF_BLOCKS_PER_WIDEN < halves ? h0 + HALF_BLOCKS_PER_WIDEN : halves;
    __m256i acc16[4];
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) acc16[i] = _mm256_setzero_si256();
    for (int h = h0; h < h1; h++) {
      /* Half h covers bytes 32 * (h & 1) .. +31 of block h / 2: columns offset by the same. */
      const int8_t *x = job->activations + (size_t)(h >> 1) * TRINE_BLOCK_COLUMNS + 32 * (h & 1);
#pragma GCC unroll 4
      for (int i = 0; i < R; i++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(w[i] + (size_t)h * 32));
        acc16[i] = _mm256_add_epi16(acc16[i], half_block_dot(v, x, mask));
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) acc32[i] = _mm256_add_epi32(acc32[i], _mm256_madd_epi16(acc16[i], ones));
  }
#pragma GCC unroll 4
  for (int i = 0; i < R; i++) trine_store(job, 0, r0 + i * step, hsum_epi32(acc32[i]));
}

INLINE void gemm_tile(const ternary_job *job, int r, int b0, const int BT) {
  const __m256i mask = _mm256_set1_epi8(0x03), ones = _mm256_set1_epi16(1);
  const int halves = job->paddedCols / (TRINE_BLOCK_COLUMNS / 2);
  const uint8_t *w = job->codes + (size_t)r * job->rowBytes;
  __m256i acc32[4];
#pragma GCC unroll 4
  for (int b = 0; b < 4; b++) acc32[b] = _mm256_setzero_si256();
  for (int h0 = 0; h0 < halves; h0 += HALF_BLOCKS_PER_WIDEN) {
    const int h1 = h0 + HALF_BLOCKS_PER_WIDEN < halves ? h0 + HALF_BLOCKS_PER_WIDEN : halves;
    __m256i acc16[4];
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++) acc16[b] = _mm256_setzero_si256();
    for (int h = h0; h < h1; h++) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)(w + (size_t)h * 32));
      const __m256i c0 = _mm256_and_si256(v, mask), c1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), mask);
      const __m256i c2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
      const __m256i c3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), mask);
      const size_t columnOffset = (size_t)(h >> 1) * TRINE_BLOCK_COLUMNS + 32 * (h & 1);
#pragma GCC unroll 4
      for (int b = 0; b < BT; b++) {
        const int8_t *x = job->activations + (size_t)(b0 + b) * job->paddedCols + columnOffset;
        const __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, _mm256_loadu_si256((const __m256i *)x)),
                                             _mm256_maddubs_epi16(c1, _mm256_loadu_si256((const __m256i *)(x + 64))));
        const __m256i s23 =
            _mm256_add_epi16(_mm256_maddubs_epi16(c2, _mm256_loadu_si256((const __m256i *)(x + 128))),
                             _mm256_maddubs_epi16(c3, _mm256_loadu_si256((const __m256i *)(x + 192))));
        acc16[b] = _mm256_add_epi16(acc16[b], _mm256_add_epi16(s01, s23));
      }
    }
#pragma GCC unroll 4
    for (int b = 0; b < BT; b++) acc32[b] = _mm256_add_epi32(acc32[b], _mm256_madd_epi16(acc16[b], ones));
  }
#pragma GCC unroll 4
  for (int b = 0; b < BT; b++) trine_store(job, b0 + b, r, hsum_epi32(acc32[b]));
}

TARGET void ternary_rows_avx2(const ternary_job *job, int rowBegin, int rowEnd) {
  if (job->batch == 1) {
    const int segment = (rowEnd - rowBegin) / 4;
    for (int i = 0; i < segment; i++) gemv_rows(job, rowBegin + i, segment, 4);
    for (int r = rowBegin + 4 * segment; r < rowEnd; r++) gemv_rows(job, r, 1, 1);
    return;
  }
  for (int r = rowBegin; r < rowEnd; r++) {
    int b = 0;
    for (; b + 4 <= job->batch; b += 4) gemm_tile(job, r, b, 4);
    switch (job->batch - b) {
      case 3: gemm_tile(job, r, b, 3); break;
      case 2: gemm_tile(job, r, b, 2); break;
      case 1: gemm_tile(job, r, b, 1); break;
      default: break;
    }
  }
}
#endif
