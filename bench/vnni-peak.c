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

__attribute__((target("avx512f,avx512vnni"))) int main(void) {
  __m512i acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_epi32(i);
  const __m512i codes = _mm512_set1_epi8(1), x = _mm512_set1_epi8(2);
  const long iterations = 50000000;
  for (int rep = 0; rep < 3; rep++) {
    const double start = cpu_seconds();
    for (long k = 0; k < iterations; k++) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc[i]) : "v"(codes), "v"(x));
    }
    printf("vpdpbusd zmm: %.0f G int8 MAC/s\n", iterations * 12 * 64 / (cpu_seconds() - start) / 1e9);
  }
  int sum = 0;
  for (int i = 0; i < 12; i++) sum += _mm512_reduce_add_epi32(acc[i]);
  return sum == 1;
}
