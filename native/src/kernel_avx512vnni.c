/*
 * AVX-512 VNNI path: vpdpbusd multiplies 64 unsigned codes by 64 signed activations and adds each
 * group of four products into an int32 lane, i.e. 64 ternary multiply-adds per instruction.
 *
 * Rows are taken four at a time, and the four are far apart: a call's row range is cut into four
 * equal segments walked in lockstep (rows r, r + q, r + 2q, r + 3q). Four independent sequential
 * streams keep more DRAM reads in flight than one, and the four rows share every activation load.
 * Measured on the Zen 5 test machine at batch 1 (docs/KERNELS.md): one row at a time streamed
 * weights at ~70% of a plain read, four adjacent rows at ~45% (their four streams sit inside one
 * page and confuse the prefetchers), four far-apart rows at 100-110% of a one-stream read.
 *
 * Batch 1 (decode) is bound by memory, so it minimises work per weight byte: instead of shifting
 * each bit pair down, it only masks it in place (code * 1, * 4, * 16, * 64) and keeps one
 * accumulator per bit pair, scaling back with an exact arithmetic shift at the end of the row: per
 * 64 bytes of weights, 1 load, 4 ands and 4 vpdpbusd.
 *
 * Batches are bound by vpdpbusd throughput, so a tile of 4 weight rows x up to 4 activation rows
 * decodes each code block once (shift + mask to 0..2) and reuses it for every activation row, while
 * each activation vector it loads feeds all four weight rows. Sixteen accumulators, four decoded
 * code vectors and one activation vector fit the 32 zmm registers.
 */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define INLINE static inline __attribute__((always_inline)) TARGET

/*
 * vpdpbusd through inline asm: with the intrinsic, GCC 12 copies the accumulator into a fresh
 * register before each destructive vpdpbusd and spills the copies, which doubled the instruction
 * count of the inner loops. "+v" pins the accumulator in place.
 */
INLINE __m512i dpbusd(__m512i acc, __m512i codes, __m512i x) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(codes), "vm"(x));
  return acc;
}

/* The totals of four vectors, in lanes 0-3: with short rows (4 blocks at d = 1024) four separate
 * horizontal sums were a third of the batch-1 instructions. */
INLINE __m128i reduce_4(const __m512i v[4]) {
  /* Per 128-bit lane: [v0 0+2, v1 0+2, v0 1+3, v1 1+3], the same for v2 and v3, then [v0..v3]. */
  const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
  const __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
  const __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(s, t), _mm512_unpackhi_epi64(s, t));
  const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Batch 1 for R rows, `step` rows apart, starting at row r0. */
INLINE void gemv_rows(const ternary_job *job, int r0, int step, const int R) {
  const __m512i mask0 = _mm512_set1_epi8(0x03), mask1 = _mm512_set1_epi8(0x0C);
  const __m512i mask2 = _mm512_set1_epi8(0x30), mask3 = _mm512_set1_epi8((char)0xC0);
  const int blocks = job->paddedCols / TRINE_BLOCK_COLUMNS;
  const uint8_t *w[4];
  __m512i acc[4][4];
#pragma GCC unroll 4
  for (int i = 0; i < R; i++) {
    w[i] = job->codes + (size_t)(r0 + i * step) * job->rowBytes;
    acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = _mm512_setzero_si512();
  }
  for (int k = 0; k < blocks; k++) {
    const int8_t *xk = job->activations + (size_t)k * TRINE_BLOCK_COLUMNS;
    const __m512i x0 = _mm512_loadu_si512(xk), x1 = _mm512_loadu_si512(xk + 64);
    const __m512i x2 = _mm512_loadu_si512(xk + 128), x3 = _mm512_loadu_si512(xk + 192);
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
      const __m512i v = _mm512_loadu_si512(w[i] + (size_t)k * TRINE_BLOCK_BYTES);
      acc[i][0] = dpbusd(acc[i][0], _mm512_and_si512(v, mask0), x0);
      acc[i][1] = dpbusd(acc[i][1], _mm512_and_si512(v, mask1), x1);
      acc[i][2] = dpbusd(acc[i][2], _mm512_and_si512(v, mask2), x2);
      acc[i][3] = dpbusd(acc[i][3], _mm512_and_si512(v, mask3), x3);
    }
  }
  __m512i t[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    /* Each lane of acc[i][j] sums code * 4^j * x terms, so the shift is exact. */
    t[i] = i < R ? _mm512_add_epi32(_mm512_add_epi32(acc[i][0], _mm512_srai_epi32(acc[i][1], 2)),
                                    _mm512_add_epi32(_mm512_srai_epi32(acc[i][2], 4), _mm512_srai_epi32(acc[i][3], 6)))
                 : _mm512_setzero_si512();
  }
  int32_t dots[4];
  _mm_storeu_si128((__m128i *)dots, reduce_4(t));
#pragma GCC unroll 4
  for (int i = 0; i < R; i++) trine_store(job, 0, r0 + i * step, dots[i]);
}

/* Sums each of 16 accumulators acc[i][b]; lane 4 * b + i of the result holds acc[i][b]'s total. */
INLINE __m512i reduce_4x4(__m512i acc[4][4]) {
  __m512i u[4];
#pragma GCC unroll 4
  for (int b = 0; b < 4; b++) {
    /* Per 128-bit lane: [i0 0+2, i1 0+2, i0 1+3, i1 1+3], then the same for rows 2 and 3. */
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[0][b], acc[1][b]),
                                       _mm512_unpackhi_epi32(acc[0][b], acc[1][b]));
    const __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2][b], acc[3][b]),
                                       _mm512_unpackhi_epi32(acc[2][b], acc[3][b]));
    /* Per 128-bit lane L: [i0, i1, i2, i3] partial sums over lane L. */
    u[b] = _mm512_add_epi32(_mm512_unpacklo_epi64(s, t), _mm512_unpackhi_epi64(s, t));
  }
  const int even = _MM_SHUFFLE(2, 0, 2, 0), odd = _MM_SHUFFLE(3, 1, 3, 1);
  const __m512i p = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], even), _mm512_shuffle_i32x4(u[0], u[1], odd));
  const __m512i q = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2], u[3], even), _mm512_shuffle_i32x4(u[2], u[3], odd));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(p, q, even), _mm512_shuffle_i32x4(p, q, odd));
}

/* R weight rows (`step` apart from r0) against activation rows b0 .. b0 + BT - 1. With `prefetch`
 * it also pulls each stream's next row towards L1, so the following tile's weights arrive while
 * this one computes instead of stalling it (only the first batch tile of a row group does this). */
INLINE void gemm_tile(const ternary_job *job, int r0, int step, const int R, int b0, const int BT, int prefetch) {
  const __m512i mask = _mm512_set1_epi8(0x03);
  const int blocks = job->paddedCols / TRINE_BLOCK_COLUMNS;
  const int8_t *x = job->activations + (size_t)b0 * job->paddedCols;
  const uint8_t *w[4];
  __m512i acc[4][4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    w[i] = job->codes + (size_t)(r0 + (i < R ? i : 0) * step) * job->rowBytes;
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++) acc[i][b] = _mm512_setzero_si512();
  }
  for (int k = 0; k < blocks; k++) {
    if (prefetch) {
#pragma GCC unroll 4
      for (int i = 0; i < R; i++) {
        _mm_prefetch((const char *)(w[i] + job->rowBytes + (size_t)k * TRINE_BLOCK_BYTES), _MM_HINT_T0);
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      __m512i c[4];
#pragma GCC unroll 4
      for (int i = 0; i < R; i++) {
        /* Reloading the block (an L1 hit) for each bit pair, rather than keeping it in a register,
         * leaves room for all 16 accumulators. A 16-bit shift drags the neighbour byte's bits in;
         * the mask drops them. */
        const __m512i v = _mm512_loadu_si512(w[i] + (size_t)k * TRINE_BLOCK_BYTES);
        c[i] = _mm512_and_si512(j == 0 ? v : _mm512_srli_epi16(v, 2 * j), mask);
      }
#pragma GCC unroll 4
      for (int b = 0; b < BT; b++) {
        const __m512i xv =
            _mm512_loadu_si512(x + (size_t)b * job->paddedCols + (size_t)k * TRINE_BLOCK_COLUMNS + 64 * j);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) acc[i][b] = dpbusd(acc[i][b], c[i], xv);
      }
    }
  }
  int32_t dots[16];
  if (R == 4 && BT == 4) {
    _mm512_storeu_si512(dots, reduce_4x4(acc));
  } else {
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
#pragma GCC unroll 4
      for (int b = 0; b < BT; b++) dots[4 * b + i] = _mm512_reduce_add_epi32(acc[i][b]);
    }
  }
  for (int b = 0; b < BT; b++) {
    for (int i = 0; i < R; i++) trine_store(job, b0 + b, r0 + i * step, dots[4 * b + i]);
  }
}

/* All batch rows for R rows `step` apart: the tiles' weights stay in L1 (4 rows are under 8 KB
 * for every model shape) while every batch tile passes over them, so DRAM delivers each weight
 * once per call. */
INLINE void gemm_rows(const ternary_job *job, int r0, int step, const int R) {
  int b = 0;
  for (; b + 4 <= job->batch; b += 4) gemm_tile(job, r0, step, R, b, 4, b == 0);
  switch (job->batch - b) {
    case 3: gemm_tile(job, r0, step, R, b, 3, b == 0); break;
    case 2: gemm_tile(job, r0, step, R, b, 2, b == 0); break;
    case 1: gemm_tile(job, r0, step, R, b, 1, b == 0); break;
    default: break;
  }
}

INLINE void rows_of(const ternary_job *job, int r0, int step, const int R) {
  if (job->batch == 1) {
    gemv_rows(job, r0, step, R);
  } else {
    gemm_rows(job, r0, step, R);
  }
}

TARGET void ternary_rows_avx512vnni(const ternary_job *job, int rowBegin, int rowEnd) {
  const int segment = (rowEnd - rowBegin) / 4;
  for (int i = 0; i < segment; i++) rows_of(job, rowBegin + i, segment, 4);
  /* The 0-3 rows the four segments leave over, adjacent. */
  const int rest = rowBegin + 4 * segment;
  switch (rowEnd - rest) {
    case 3: rows_of(job, rest, 1, 3); break;
    case 2: rows_of(job, rest, 1, 2); break;
    case 1: rows_of(job, rest, 1, 1); break;
    default: break;
  }
}
#endif
