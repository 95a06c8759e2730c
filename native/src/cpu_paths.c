/*
 * Which instruction-set paths this CPU and build have. __builtin_cpu_supports also checks that the
 * OS saves the wider registers (XGETBV), so a path it reports is safe to run.
 */
#include "kernels.h"

#include <stdatomic.h>

static const char *const PATH_NAMES[TRINE_PATH_COUNT] = {"avx512vnni", "avx2", "neon", "scalar"};

const char *trine_path_name(trine_path path) { return path < TRINE_PATH_COUNT ? PATH_NAMES[path] : "unknown"; }

int trine_path_supported(trine_path path) {
  switch (path) {
#if defined(__x86_64__) || defined(__i386__)
    case TRINE_PATH_AVX512VNNI:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
    case TRINE_PATH_AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2");
#endif
#if defined(__aarch64__)
    case TRINE_PATH_NEON:
      return 1; /* Advanced SIMD is part of the ARMv8-A base. */
#endif
    case TRINE_PATH_SCALAR:
      return 1;
    default:
      return 0;
  }
}

ternary_rows_fn trine_path_kernel(trine_path path) {
  switch (path) {
#if defined(__x86_64__) || defined(__i386__)
    case TRINE_PATH_AVX512VNNI: return ternary_rows_avx512vnni;
    case TRINE_PATH_AVX2: return ternary_rows_avx2;
#endif
#if defined(__aarch64__)
    case TRINE_PATH_NEON: return ternary_rows_neon;
#endif
    case TRINE_PATH_SCALAR: return ternary_rows_scalar;
    default: return NULL;
  }
}

/* Kernel threads ask too, so the cached answer is atomic (every thread computes the same). */
int trine_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
  static _Atomic int cached = -1;
  int known = atomic_load_explicit(&cached, memory_order_relaxed);
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    atomic_store_explicit(&cached, known, memory_order_relaxed);
  }
  return known;
#else
  return 0;
#endif
}
