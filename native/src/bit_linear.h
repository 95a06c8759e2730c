/* The whole BitLinear of MODEL.md for rows of float activations: RMSNorm with the layer's gain, int8
 * quantisation per row, the ternary product and the output scale. Bit-identical to the JS
 * composition in src/engine/bit-linear.ts. */
#ifndef TRINE_BIT_LINEAR_H
#define TRINE_BIT_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "thread_pool.h"

typedef struct {
  const uint8_t *codes; /* rows * paddedCols / 4 packed codes */
  int rows;
  int cols;
  int paddedCols;
  double weightScale; /* mean|W| */
  const float *gain;  /* [cols]: the BitLinear's own RMSNorm gain */
} trine_bit_linear_weights;

/* Scratch bytes trine_bit_linear needs for `batch` rows of `w` (64-byte aligned pieces). */
size_t trine_bit_linear_scratch_bytes(int batch, int cols, int paddedCols);

/* outputs[b * rows + r] for b < batch; `scratch` is 64-byte aligned, trine_bit_linear_scratch_bytes
 * long. */
void trine_bit_linear(thread_pool *pool, trine_path path, const trine_bit_linear_weights *w, const float *x,
                      int batch, float *outputs, uint8_t *scratch);

#endif
