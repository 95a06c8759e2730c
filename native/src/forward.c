#include "forward.h"

#include <string.h>

#include "mixer_ops.h"
#include "thread_pool.h"

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

/*
 * The elementwise steps of a batch, split across the kernel threads the way trine_matmul splits a
 * product: rows for the norms and silu(a) * b, channel slices for the recurrence (whose rows of one
 * sequence must go in order). Each piece runs the same function on a part of the data, so the
 * results do not depend on the split. One row (decode of one sequence) or one thread runs inline:
 * a hand-off costs about a microsecond, as much as a whole row of these steps.
 */
#define MIN_PARALLEL_ROWS 4
#define RECURRENCE_SLICE 128

typedef enum { STEP_RMSNORM, STEP_SWIGLU, STEP_RECURRENCE } elementwise_step;

typedef struct {
  elementwise_step step;
  int rowsPerChunk;
  int rows;
  int n; /* row width: d, or I for silu(a) * b */
  const float *in;
  const float *gain;
  double eps;
  float *out;
  /* the recurrence's other operands */
  const float *forget, *input, *lowerBound;
  float *const *stateOfRow;
  size_t stateOffset;
  float *zeros;
} elementwise_job;

static void elementwise_chunk(void *raw, int chunk) {
  const elementwise_job *job = raw;
  if (job->step == STEP_RECURRENCE) {
    const int j0 = chunk * RECURRENCE_SLICE;
    const int width = job->n - j0 < RECURRENCE_SLICE ? job->n - j0 : RECURRENCE_SLICE;
    trine_gated_recurrence_slice(job->forget, job->input, job->in, job->lowerBound, job->rows, job->n, j0, width,
                                 job->stateOfRow, job->stateOffset, job->out, job->zeros);
    return;
  }
  const int r0 = chunk * job->rowsPerChunk;
  const int count = job->rows - r0 < job->rowsPerChunk ? job->rows - r0 : job->rowsPerChunk;
  if (count <= 0) return;
  if (job->step == STEP_RMSNORM) {
    const size_t offset = (size_t)r0 * (size_t)job->n;
    trine_rmsnorm_rows(job->in + offset, job->gain, job->eps, count, job->n, job->out + offset);
  } else {
    trine_swiglu(job->in + (size_t)r0 * 2 * (size_t)job->n, count, job->n, job->out + (size_t)r0 * (size_t)job->n);
  }
}

static void run_elementwise(thread_pool *pool, elementwise_job *job) {
  const int threads = pool_threads(pool);
  if (job->step == STEP_RECURRENCE) {
    const int slices = (job->n + RECURRENCE_SLICE - 1) / RECURRENCE_SLICE;
    if (threads == 1 || job->rows < MIN_PARALLEL_ROWS || slices == 1) {
      trine_gated_recurrence_rows(job->forget, job->input, job->in, job->lowerBound, job->rows, job->n, job->stateOfRow,
                                  job->stateOffset, job->out, job->zeros);
    } else {
      pool_run(pool, elementwise_chunk, job, slices);
    }
    return;
  }
  const int chunks = threads == 1 || job->rows < MIN_PARALLEL_ROWS ? 1 : (job->rows < threads * 4 ? job->rows : threads * 4);
  job->rowsPerChunk = (job->rows + chunks - 1) / chunks;
  if (chunks == 1) {
    elementwise_chunk(job, 0);
  } else {
    pool_run(pool, elementwise_chunk, job, (job->rows + job->rowsPerChunk - 1) / job->rowsPerChunk);
  }
}

static void rmsnorm(thread_pool *pool, const float *x, const float *gain, double eps, int rows, int n, float *out) {
  elementwise_job job = {.step = STEP_RMSNORM, .rows = rows, .n = n, .in = x, .gain = gain, .eps = eps, .out = out};
  run_elementwise(pool, &job);
}

static void swiglu(thread_pool *pool, const float *gateAndValue, int rows, int intermediate, float *hidden) {
  elementwise_job job = {.step = STEP_SWIGLU, .rows = rows, .n = intermediate, .in = gateAndValue, .out = hidden};
  run_elementwise(pool, &job);
}

static void recurrence(thread_pool *pool, const float *forget, const float *input, const float *normalizedGate,
                       const float *lowerBound, int rows, int d, float *const *stateOfRow, size_t stateOffset,
                       float *out, float *zeros) {
  elementwise_job job = {.step = STEP_RECURRENCE, .rows = rows, .n = d, .in = normalizedGate, .out = out,
                         .forget = forget, .input = input, .lowerBound = lowerBound, .stateOfRow = stateOfRow,
                         .stateOffset = stateOffset, .zeros = zeros};
  run_elementwise(pool, &job);
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
    rmsnorm(pool, x, l->attnNorm, m->eps, rows, d, h);
    trine_bit_linear(pool, path, &l->iProj, h, rows, input, linearScratch);
    trine_bit_linear(pool, path, &l->fProj, h, rows, forget, linearScratch);
    trine_bit_linear(pool, path, &l->gProj, h, rows, gate, linearScratch);
    rmsnorm(pool, gate, l->gNorm, m->eps, rows, d, gateNormed);
    recurrence(pool, forget, input, gateNormed, l->lowerBound, rows, d, stateOfRow, (size_t)layerIndex * (size_t)d, o,
               zeros);
    trine_bit_linear(pool, path, &l->oProj, o, rows, mixed, linearScratch);
    add_in_place(x, mixed, n);
    /* Channel mixer: GLU. */
    rmsnorm(pool, x, l->mlpNorm, m->eps, rows, d, h);
    trine_bit_linear(pool, path, &l->gateProj, h, rows, gateAndValue, linearScratch);
    swiglu(pool, gateAndValue, rows, I, hidden);
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
