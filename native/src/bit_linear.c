#include "bit_linear.h"

#include <string.h>

#include "activation_quant.h"
#include "dispatch.h"

static size_t lines(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* Scratch: activation sums | output scales | a normalised row per activation row (rows are
 * quantised in parallel for batches) | the int8 activations (aligned). */
size_t trine_bit_linear_scratch_bytes(int batch, int cols, int paddedCols) {
  return lines((size_t)batch * sizeof(int32_t)) + lines((size_t)batch * sizeof(float)) +
         lines((size_t)batch * (size_t)cols * sizeof(float)) + (size_t)batch * (size_t)paddedCols;
}

typedef struct {
  const trine_bit_linear_weights *w;
  const float *x;
  int batch;
  int rowsPerChunk;
  float *scales;
  float *normalized;
  int8_t *activations;
} quantize_job;

/* Rows are independent, so the split does not change any result. */
static void quantize_rows(void *raw, int chunk) {
  const quantize_job *job = raw;
  const trine_bit_linear_weights *w = job->w;
  const int end = (chunk + 1) * job->rowsPerChunk < job->batch ? (chunk + 1) * job->rowsPerChunk : job->batch;
  for (int b = chunk * job->rowsPerChunk; b < end; b++) {
    const float activationScale = trine_rmsnorm_quantize_row(
        job->x + (size_t)b * (size_t)w->cols, w->gain, w->cols, w->paddedCols,
        job->activations + (size_t)b * (size_t)w->paddedCols, job->normalized + (size_t)b * (size_t)w->cols);
    job->scales[b] = (float)(w->weightScale / (double)activationScale);
  }
}

/* A batch of at least this many rows is quantised on every kernel thread (a hand-off costs about
 * as much as quantising one row). */
#define MIN_PARALLEL_ROWS 4

void trine_bit_linear(thread_pool *pool, trine_path path, const trine_bit_linear_weights *w, const float *x,
                      int batch, float *outputs, uint8_t *scratch) {
  if (w->rows == 0 || batch == 0) return;
  const size_t sumsBytes = lines((size_t)batch * sizeof(int32_t));
  const size_t scalesBytes = lines((size_t)batch * sizeof(float));
  const size_t normalizedBytes = lines((size_t)batch * (size_t)w->cols * sizeof(float));
  float *scales = (float *)(scratch + sumsBytes);
  quantize_job quantize = {w, x, batch, batch, scales, (float *)(scratch + sumsBytes + scalesBytes),
                           (int8_t *)(scratch + sumsBytes + scalesBytes + normalizedBytes)};
  const int threads = pool_threads(pool);
  if (threads > 1 && batch >= MIN_PARALLEL_ROWS) {
    const int chunks = batch < threads * 4 ? batch : threads * 4;
    quantize.rowsPerChunk = (batch + chunks - 1) / chunks;
    pool_run(pool, quantize_rows, &quantize, (batch + quantize.rowsPerChunk - 1) / quantize.rowsPerChunk);
  } else {
    quantize_rows(&quantize, 0);
  }
  int8_t *activations = quantize.activations;
  ternary_job job;
  memset(&job, 0, sizeof job);
  job.codes = w->codes;
  job.rowBytes = (size_t)w->paddedCols / 4;
  job.rows = w->rows;
  job.paddedCols = w->paddedCols;
  job.batch = batch;
  job.activations = activations;
  job.scales = scales;
  job.outputs = outputs;
  trine_matmul(pool, path, &job, (int32_t *)scratch);
}
