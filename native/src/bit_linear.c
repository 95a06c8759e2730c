#include "bit_linear.h"

#include <string.h>

#include "activation_quant.h"
#include "dispatch.h"

static size_t lines(size_t bytes) { return (bytes + 63) / 64 * 64; }

size_t trine_bit_linear_scratch_bytes(int batch, int cols, int paddedCols) {
  return lines((size_t)batch * sizeof(int32_t)) + lines((size_t)batch * sizeof(float)) +
         lines((size_t)cols * sizeof(float)) + (size_t)batch * (size_t)paddedCols;
}

void trine_bit_linear(thread_pool *pool, trine_path path, const trine_bit_linear_weights *w, const float *x,
                      int batch, float *outputs, uint8_t *scratch) {
  if (w->rows == 0 || batch == 0) return;
  /* Scratch: activation sums | output scales | one normalised row | the int8 activations (aligned). */
  const size_t sumsBytes = lines((size_t)batch * sizeof(int32_t));
  const size_t scalesBytes = lines((size_t)batch * sizeof(float));
  const size_t rowBytes = lines((size_t)w->cols * sizeof(float));
  float *scales = (float *)(scratch + sumsBytes);
  float *normalized = (float *)(scratch + sumsBytes + scalesBytes);
  int8_t *activations = (int8_t *)(scratch + sumsBytes + scalesBytes + rowBytes);
  for (int b = 0; b < batch; b++) {
    const float activationScale =
        trine_rmsnorm_quantize_row(x + (size_t)b * (size_t)w->cols, w->gain, w->cols, w->paddedCols,
                                   activations + (size_t)b * (size_t)w->paddedCols, normalized);
    scales[b] = (float)(w->weightScale / (double)activationScale);
  }
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
