/*
 * The int8 dot-product ceiling of one core: twelve independent vpdpbusd zmm chains (64 multiply-adds
 * each), G MAC/s in thread CPU time. Every batched ternary kernel is bound by it (docs/KERNELS.md),
 * so a benchmark's batched figures mean little without the figure this core gives at that moment.
 *
 *   gcc -O2 -o /tmp/vnni-peak bench/vnni-peak.c && /tmp/vnni-peak
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One vpdpbusd on register `a`. */
#define DP(a) __asm__("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(codes), "v"(x))

__attribute__((target("avx512f,avx512vnni"))) int main(void) {
  /* Twelve named registers, not an array: GCC at -O2 kept an array in memory and every vpdpbusd
   * then waited on a store and a load (this printed 100-116 while the kernels reached 185-210). */
  __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2), a3 = _mm512_set1_epi32(3);
  __m512i a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5), a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7);
  __m512i a8 = _mm512_set1_epi32(8), a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
  const __m512i codes = _mm512_set1_epi8(1), x = _mm512_set1_epi8(2);
  const long iterations = 50000000;
  for (int rep = 0; rep < 3; rep++) {
    const double start = cpu_seconds();
    for (long k = 0; k < iterations; k++) {
      DP(a0); DP(a1); DP(a2); DP(a3); DP(a4); DP(a5); DP(a6); DP(a7); DP(a8); DP(a9); DP(a10); DP(a11);
    }
    printf("vpdpbusd zmm: %.0f G int8 MAC/s\n", iterations * 12 * 64 / (cpu_seconds() - start) / 1e9);
  }
  const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                       _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
  const __m512i rest = _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11));
  return _mm512_reduce_add_epi32(_mm512_add_epi32(sum, rest)) == 1;
}
