#include "forward.h"

#include <string.h>

#include "mixer_ops.h"

static size_t floats(size_t n) { return (n * sizeof(float) + 63) / 64 * 64; }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Scratch: h, i, f, g, normalised g, o, mixed [rows, d]; [a | b] [rows, 2I]; hidden [rows, I];
 * the logit rows and their norm [wanted, d]; d zeros; then the BitLinear scratch. */
static size_t floats_bytes(const trine_model *m, int rows, int wanted) {
  const size_t d = (size_t)m->hiddenSize, I = (size_t)m->intermediateSize;
  return 7 * floats((size_t)rows * d) + floats((size_t)rows * 2 * I) + floats((size_t)rows * I) +
         2 * floats((size_t)wanted * d) + floats(d);
}

size_t trine_forward_scratch_bytes(const trine_model *m, int rows, int wanted) {
  const trine_layer *l = &m->layers[0];
  size_t bitLinear = trine_bit_linear_scratch_bytes(rows, l->iProj.cols, l->iProj.paddedCols);
  bitLinear = max_size(bitLinear, trine_bit_linear_scratch_bytes(rows, l->downProj.cols, l->downProj.paddedCols));
  bitLinear = max_size(bitLinear, trine_bit_linear_scratch_bytes(wanted, m->lmHead.cols, m->lmHead.paddedCols));
  return floats_bytes(m, rows, wanted) + bitLinear;
}

static void add_in_place(float *x, const float *delta, size_t n) {
  for (size_t k = 0; k < n; k++) x[k] += delta[k];
}

void trine_forward_layers(thread_pool *pool, trine_path path, const trine_model *m, float *x, int rows,
                          float *const *stateOfRow, const int32_t *logitRows, int wanted, float *logits,
                          uint8_t *scratch) {
  const int d = m->hiddenSize, I = m->intermediateSize;
  const size_t n = (size_t)rows * (size_t)d;
  uint8_t *at = scratch;
  float *h = (float *)at, *input = (float *)(at += floats(n)), *forget = (float *)(at += floats(n));
  float *gate = (float *)(at += floats(n)), *gateNormed = (float *)(at += floats(n));
  float *o = (float *)(at += floats(n)), *mixed = (float *)(at += floats(n));
  float *gateAndValue = (float *)(at += floats(n));
  float *hidden = (float *)(at += floats((size_t)rows * 2 * (size_t)I));
  float *last = (float *)(at += floats((size_t)rows * (size_t)I));
  float *lastNormed = (float *)(at += floats((size_t)wanted * (size_t)d));
  float *zeros = (float *)(at += floats((size_t)wanted * (size_t)d));
  uint8_t *linearScratch = at + floats((size_t)d);
  memset(zeros, 0, (size_t)d * sizeof(float));

  for (int layerIndex = 0; layerIndex < m->numLayers; layerIndex++) {
    const trine_layer *l = &m->layers[layerIndex];
    /* Token mixer: MLGRU. */
    trine_rmsnorm_rows(x, l->attnNorm, m->eps, rows, d, h);
    trine_bit_linear(pool, path, &l->iProj, h, rows, input, linearScratch);
    trine_bit_linear(pool, path, &l->fProj, h, rows, forget, linearScratch);
    trine_bit_linear(pool, path, &l->gProj, h, rows, gate, linearScratch);
    trine_rmsnorm_rows(gate, l->gNorm, m->eps, rows, d, gateNormed);
    trine_gated_recurrence_rows(forget, input, gateNormed, l->lowerBound, rows, d, stateOfRow,
                                (size_t)layerIndex * (size_t)d, o, zeros);
    trine_bit_linear(pool, path, &l->oProj, o, rows, mixed, linearScratch);
    add_in_place(x, mixed, n);
    /* Channel mixer: GLU. */
    trine_rmsnorm_rows(x, l->mlpNorm, m->eps, rows, d, h);
    trine_bit_linear(pool, path, &l->gateProj, h, rows, gateAndValue, linearScratch);
    trine_swiglu(gateAndValue, rows, I, hidden);
    trine_bit_linear(pool, path, &l->downProj, hidden, rows, mixed, linearScratch);
    add_in_place(x, mixed, n);
  }
  if (wanted == 0) return;
  for (int k = 0; k < wanted; k++) {
    memcpy(last + (size_t)k * (size_t)d, x + (size_t)logitRows[k] * (size_t)d, (size_t)d * sizeof(float));
  }
  trine_rmsnorm_rows(last, m->finalNorm, m->eps, wanted, d, lastNormed);
  trine_bit_linear(pool, path, &m->lmHead, lastNormed, wanted, logits, linearScratch);
}
