/* The forward pass of MODEL.md after the embedding, in one native call: every layer (MLGRU and GLU
 * with their residuals), the final norm and lm_head, over a batch of token rows. Each step calls the
 * same C functions, in the same order and precision, as src/engine/forward.ts does through the
 * native kernel one step at a time, so the two agree bit for bit; the difference is ~150 N-API calls
 * and their JS orchestration per token, gone. */
#ifndef TRINE_FORWARD_H
#define TRINE_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "bit_linear.h"
#include "kernels.h"
#include "thread_pool.h"

typedef struct {
  const float *attnNorm;
  const float *gNorm;
  const float *mlpNorm;
  const float *lowerBound; /* [d] forget-gate floor, or NULL (layer 0, or bounds off) */
  trine_bit_linear_weights iProj, fProj, gProj, oProj, gateProj, downProj;
} trine_layer;

typedef struct {
  int hiddenSize;
  int intermediateSize;
  int vocabSize;
  int numLayers;
  double eps; /* the config's rms_norm_eps, for the layer norms */
  trine_layer *layers;
  const float *finalNorm;
  trine_bit_linear_weights lmHead;
} trine_model;

size_t trine_forward_scratch_bytes(const trine_model *model, int rows, int wanted);

/*
 * x [rows, d] holds the embedded tokens and is advanced in place through every layer. Row r
 * advances the recurrent state at stateOfRow[r] ([L, d] floats; rows of one sequence point at the
 * same state and come in order). logits [wanted, V] receives lm_head of rows logitRows[0..wanted).
 * scratch: 64-byte aligned, trine_forward_scratch_bytes long.
 */
void trine_forward_layers(thread_pool *pool, trine_path path, const trine_model *model, float *x, int rows,
                          float *const *stateOfRow, const int32_t *logitRows, int wanted, float *logits,
                          uint8_t *scratch);

#endif
