/*
 * The benchmark's roofline: how fast one pass over the packed weights could possibly go. The loop
 * does the least work a kernel could do per byte (one psadbw and one add per vector) and splits the
 * buffer across the pool like a kernel call splits its rows.
 */
#include "stream_read.h"

#include <stdatomic.h>

#include "dispatch.h"
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/*
 * Four segments of the buffer read in lockstep, as the kernels read four far-apart rows: one
 * sequential stream per core leaves DRAM bandwidth unused on the test machine (~30 GB/s against
 * ~37 GB/s for four streams), and a roofline that a kernel can beat is no roofline.
 */
#define SEGMENTS 4

__attribute__((target("avx512f,avx512bw"))) static uint64_t sum_avx512(const uint8_t *p, size_t n) {
  const __m512i zero = _mm512_setzero_si512();
  const size_t span = n / SEGMENTS / 64 * 64;
  __m512i s0 = zero, s1 = zero, s2 = zero, s3 = zero;
  for (size_t i = 0; i < span; i += 64) {
    s0 = _mm512_add_epi64(s0, _mm512_sad_epu8(_mm512_loadu_si512(p + i), zero));
    s1 = _mm512_add_epi64(s1, _mm512_sad_epu8(_mm512_loadu_si512(p + span + i), zero));
    s2 = _mm512_add_epi64(s2, _mm512_sad_epu8(_mm512_loadu_si512(p + 2 * span + i), zero));
    s3 = _mm512_add_epi64(s3, _mm512_sad_epu8(_mm512_loadu_si512(p + 3 * span + i), zero));
  }
  uint64_t sum = (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)));
  for (size_t i = SEGMENTS * span; i < n; i++) sum += p[i];
  return sum;
}

__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint8_t *p, size_t n) {
  const __m256i zero = _mm256_setzero_si256();
  const size_t span = n / SEGMENTS / 64 * 64;
  __m256i s0 = zero, s1 = zero, s2 = zero, s3 = zero;
  for (size_t i = 0; i < span; i += 64) {
    for (int half = 0; half < 64; half += 32) {
      s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(p + i + half)), zero));
      s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(p + span + i + half)), zero));
      s2 = _mm256_add_epi64(s2, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(p + 2 * span + i + half)), zero));
      s3 = _mm256_add_epi64(s3, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(p + 3 * span + i + half)), zero));
    }
  }
  uint64_t lanes[4];
  _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3)));
  uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (size_t i = SEGMENTS * span; i < n; i++) sum += p[i];
  return sum;
}
#endif

static uint64_t sum_portable(const uint8_t *p, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) sum += p[i];
  return sum;
}

static uint64_t sum_bytes(const uint8_t *p, size_t n) {
  /* Start the wide loads on a cache line: Node's large ArrayBuffers begin 16 bytes past one (the
   * malloc header), and line-splitting loads read ~30% slower here. */
  size_t head = (64 - ((uintptr_t)p & 63)) & 63;
  if (head > n) head = n;
  const uint64_t headSum = sum_portable(p, head);
  p += head;
  n -= head;
#if defined(__x86_64__) || defined(__i386__)
  if (trine_path_supported(TRINE_PATH_AVX512VNNI)) return headSum + sum_avx512(p, n);
  if (trine_path_supported(TRINE_PATH_AVX2)) return headSum + sum_avx2(p, n);
#endif
  return headSum + sum_portable(p, n);
}

typedef struct {
  const uint8_t *bytes;
  size_t length;
  size_t chunkBytes;
  _Atomic uint64_t total;
} stream_context;

static void read_chunk(void *raw, int chunk) {
  stream_context *context = raw;
  const size_t begin = (size_t)chunk * context->chunkBytes;
  size_t end = begin + context->chunkBytes;
  if (end > context->length) end = context->length;
  if (begin < end) atomic_fetch_add(&context->total, sum_bytes(context->bytes + begin, end - begin));
}

uint64_t trine_stream_read(thread_pool *pool, const uint8_t *bytes, size_t length) {
  if (length == 0) return 0;
  const size_t lines = (length + 63) / 64;
  /* Split as a batch-1 kernel call over the same bytes (4 ternary weights each) is split. */
  const int threads = pool_threads(pool);
  const size_t chunks =
      threads == 1 ? 1 : (size_t)trine_chunk_count(threads, 4.0 * (double)length, lines > 65535 ? 65535 : (int)lines);
  /* Whole cache lines per chunk, so that no two threads touch one line. */
  stream_context context = {bytes, length, (lines + chunks - 1) / chunks * 64, 0};
  pool_run(pool, read_chunk, &context, (int)((length + context.chunkBytes - 1) / context.chunkBytes));
  return atomic_load(&context.total);
}
