/*
 * Portable path: plain C over the packed layout, for CPUs with none of the vector paths. It uses
 * the same unsigned-code identity as the vector paths so that all of them share one correction.
 */
#include "kernels.h"

static int32_t code_dot(const uint8_t *codes, const int8_t *x, int blocks) {
  int32_t sum = 0;
  for (int k = 0; k < blocks; k++) {
    const uint8_t *block = codes + (size_t)k * TRINE_BLOCK_BYTES;
    const int8_t *columns = x + (size_t)k * TRINE_BLOCK_COLUMNS;
    for (int i = 0; i < TRINE_BLOCK_BYTES; i++) {
      const int byte = block[i];
      sum += (byte & 3) * columns[i] + ((byte >> 2) & 3) * columns[64 + i] +
             ((byte >> 4) & 3) * columns[128 + i] + (byte >> 6) * columns[192 + i];
    }
  }
  return sum;
}

void ternary_rows_scalar(const ternary_job *job, int rowBegin, int rowEnd) {
  const int blocks = job->paddedCols / TRINE_BLOCK_COLUMNS;
  for (int r = rowBegin; r < rowEnd; r++) {
    const uint8_t *row = job->codes + (size_t)r * job->rowBytes;
    for (int b = 0; b < job->batch; b++) {
      trine_store(job, b, r, code_dot(row, job->activations + (size_t)b * job->paddedCols, blocks));
    }
  }
}
