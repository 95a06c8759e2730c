/* The elementwise parts of a layer (MODEL.md, "One layer"), for rows of activations: RMSNorm, the
 * MLGRU's gated recurrence and the GLU's silu(a) * b. Each mirrors its JS reference in
 * src/engine (rmsnorm.ts, mlgru.ts gatedRecurrence, glu.ts swiGlu) operation for operation. */
#ifndef TRINE_MIXER_OPS_H
#define TRINE_MIXER_OPS_H

#include <stddef.h>
#include <stdint.h>

void trine_rmsnorm_rows(const float *x, const float *gain, double eps, int rows, int n, float *out);

/* states: [sequences, d], the layer's state of each sequence; row r advances states[sequenceOfRow[r]]
 * in row order. lowerBound may be NULL (layer 0, or bounds off); `zeros` is d zero floats then. */
void trine_gated_recurrence(const float *forget, const float *input, const float *normalizedGate,
                            const float *lowerBound, int rows, int d, float *states, const int32_t *sequenceOfRow,
                            float *out, float *zeros);

/* The same for a batch whose row r advances the state at stateOfRow[r] + stateOffset (one state per
 * sequence held wherever the caller keeps it, rather than stacked). */
void trine_gated_recurrence_rows(const float *forget, const float *input, const float *normalizedGate,
                                 const float *lowerBound, int rows, int d, float *const *stateOfRow,
                                 size_t stateOffset, float *out, float *zeros);

/* Channels [j0, j0 + width) of every row of a batch (rows of width d): the recurrence is independent
 * across channels, so a batch can be split across threads by channel slices. */
void trine_gated_recurrence_slice(const float *forget, const float *input, const float *normalizedGate,
                                  const float *lowerBound, int rows, int d, int j0, int width, float *const *stateOfRow,
                                  size_t stateOffset, float *out, float *zeros);

void trine_swiglu(const float *gateAndValue, int rows, int intermediate, float *hidden);

#endif
