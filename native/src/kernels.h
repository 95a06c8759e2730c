/*
 * The native ternary kernels: one job description shared by every instruction-set path.
 *
 * Weights are read in the layout of src/engine/ternary.ts: 2-bit codes c = w + 1, each row a run of
 * 64-byte blocks, byte i of a block holding columns i, i+64, i+128, i+192 in bit pairs 0-1 .. 6-7.
 * Every path computes sum_c code_c * x_c with an unsigned-by-signed byte product and subtracts the
 * activation sum once per output (sum_c (w_c + 1) x_c - sum_c x_c = sum_c w_c x_c), so a path never
 * needs a signed weight.
 */
#ifndef TRINE_KERNELS_H
#define TRINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define TRINE_BLOCK_COLUMNS 256
#define TRINE_BLOCK_BYTES 64

/*
 * The widest row the vector paths accept. The AVX-512 batch-1 path keeps the top bit pair unshifted
 * (code * 64), so one int32 lane gains at most 4 * 128 * 128 = 65536 per block: 2^15 blocks stay
 * exact. The int32 result itself already needs |sum| < 2^31, i.e. about 2^24 columns.
 */
#define TRINE_MAX_PADDED_COLUMNS (1 << 23)

typedef struct {
  const uint8_t *codes;          /* rows * rowBytes packed codes */
  size_t rowBytes;               /* paddedCols / 4 */
  int rows;
  int paddedCols;
  int batch;
  const int8_t *activations;     /* batch * paddedCols, padding columns 0 */
  const int32_t *activationSums; /* [batch]: the unsigned-code correction */
  int32_t *accumulators;         /* [batch * rows], or NULL when outputs is set */
  float *outputs;                /* [batch * rows] fused-scale results, or NULL */
  const float *scales;           /* [batch] with outputs */
} ternary_job;

/* Computes outputs for rows [rowBegin, rowEnd) and every batch row of the job. */
typedef void (*ternary_rows_fn)(const ternary_job *job, int rowBegin, int rowEnd);

/* Writes one finished dot product (code-sum minus activation sum) as int32 or scaled float. */
static inline void trine_store(const ternary_job *job, int b, int r, int32_t codeDot) {
  const int32_t dot = codeDot - job->activationSums[b];
  const size_t index = (size_t)b * (size_t)job->rows + (size_t)r;
  if (job->outputs) {
    /* Through double so the result equals JS `acc * scale` stored to a Float32Array. */
    job->outputs[index] = (float)((double)dot * (double)job->scales[b]);
  } else {
    job->accumulators[index] = dot;
  }
}

/* The instruction-set paths, fastest first; the names are the ones JS uses. */
typedef enum {
  TRINE_PATH_AVX512VNNI = 0,
  TRINE_PATH_AVX2 = 1,
  TRINE_PATH_NEON = 2,
  TRINE_PATH_SCALAR = 3,
  TRINE_PATH_COUNT = 4
} trine_path;

const char *trine_path_name(trine_path path);
int trine_path_supported(trine_path path);
/* Whether the CPU has AVX-512 F, BW, VL and DQ, which the elementwise steps' AVX-512 loops use
 * (every AVX-512 x86 core since Skylake-X has all four); 0 elsewhere. Cached, thread-safe. */
int trine_has_avx512(void);
ternary_rows_fn trine_path_kernel(trine_path path);

void ternary_rows_scalar(const ternary_job *job, int rowBegin, int rowEnd);
#if defined(__x86_64__) || defined(__i386__)
void ternary_rows_avx2(const ternary_job *job, int rowBegin, int rowEnd);
void ternary_rows_avx512vnni(const ternary_job *job, int rowBegin, int rowEnd);
#endif
#if defined(__aarch64__)
void ternary_rows_neon(const ternary_job *job, int rowBegin, int rowEnd);
#endif

#endif
