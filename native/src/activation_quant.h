/* BitLinear steps 1-2 for one activation row: RMSNorm with the layer's gain, then per-token int8
 * quantisation. Bit-identical to src/engine/rmsnorm.ts followed by src/engine/quantize.ts. */
#ifndef TRINE_ACTIVATION_QUANT_H
#define TRINE_ACTIVATION_QUANT_H

#include <stdint.h>

/* The BitLinear's own RMSNorm eps (MODEL.md: 1e-6, whatever the module declares). */
#define TRINE_BITLINEAR_EPS 1e-6

/* Writes q[0..paddedCols) (padding zeroed) and returns s_x; `normalized` is n floats of scratch. */
float trine_rmsnorm_quantize_row(const float *x, const float *gain, int n, int paddedCols, int8_t *q,
                                 float *normalized);

#endif
