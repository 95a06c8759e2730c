/*
 * N-API surface of the native kernels. Typed arrays are read in place (napi_get_typedarray_info
 * returns the address of the view, byteOffset included, whether it sits on an ArrayBuffer or a
 * SharedArrayBuffer), so a call copies nothing. Each JS thread that loads the addon (the main thread
 * and every worker) gets its own thread pool through the instance data, so workers never share one.
 */
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bit_linear.h"
#include "forward.h"
#include "dispatch.h"
#include "mixer_ops.h"
#include "sampling_weights.h"
#include "stream_read.h"

typedef struct {
  thread_pool *pool;
  /* Grown to the largest call and kept: the activation sums, and for batches an aligned copy of
   * activations that do not start on a cache line. */
  uint8_t *scratch;
  size_t scratchBytes;
} instance_state;

#define MAX_ARGS 8

#define CHECK(call)                                        \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      throw_pending(env, "N-API call failed: " #call);    \
      return NULL;                                         \
    }                                                      \
  } while (0)

static void throw_pending(napi_env env, const char *message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "TRINE_NATIVE_INTERNAL", message);
}

static instance_state *state_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static bool get_typed(napi_env env, napi_value value, napi_typedarray_type type, const char *name, void **data,
                      size_t *length) {
  napi_typedarray_type actual;
  napi_value buffer;
  size_t offset;
  /* Fails with napi_invalid_arg for anything that is not a typed array. */
  if (napi_get_typedarray_info(env, value, &actual, length, data, &buffer, &offset) != napi_ok || actual != type) {
    char message[96];
    snprintf(message, sizeof message, "%s is not a typed array of the expected element type", name);
    napi_throw_type_error(env, "TRINE_NATIVE_ARGUMENT", message);
    return false;
  }
  return true;
}

static bool get_int(napi_env env, napi_value value, const char *name, int minimum, int *out) {
  int32_t v;
  if (napi_get_value_int32(env, value, &v) != napi_ok || v < minimum) {
    char message[96];
    snprintf(message, sizeof message, "%s must be an integer >= %d", name, minimum);
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", message);
    return false;
  }
  *out = v;
  return true;
}

/* The path id is a trine_path value; JS maps names to ids once through the `pathIds` export, so a
 * call parses no string. */
static bool get_path(napi_env env, napi_value value, trine_path *out) {
  int32_t id;
  if (napi_get_value_int32(env, value, &id) != napi_ok || id < 0 || id >= TRINE_PATH_COUNT ||
      !trine_path_supported((trine_path)id)) {
    napi_throw_error(env, "TRINE_NATIVE_PATH", "kernel path id is not one this CPU and build support");
    return false;
  }
  *out = (trine_path)id;
  return true;
}

/* Shared by the int32 and fused-scale entry points: argv[0..5] are pathId, codes, rows, paddedCols,
 * activations, batch; the caller fills the output fields. */
static bool parse_job(napi_env env, napi_value *argv, trine_path *path, ternary_job *job) {
  void *codes, *activations;
  size_t codesLength, activationsLength;
  int rows, paddedCols, batch;
  if (!get_path(env, argv[0], path) || !get_typed(env, argv[1], napi_uint8_array, "codes", &codes, &codesLength) ||
      !get_int(env, argv[2], "rows", 0, &rows) || !get_int(env, argv[3], "paddedCols", 0, &paddedCols) ||
      !get_typed(env, argv[4], napi_int8_array, "activations", &activations, &activationsLength) ||
      !get_int(env, argv[5], "batch", 0, &batch)) {
    return false;
  }
  if (paddedCols % TRINE_BLOCK_COLUMNS != 0 || paddedCols > TRINE_MAX_PADDED_COLUMNS) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "paddedCols must be a multiple of 256 and at most 2^23");
    return false;
  }
  if (codesLength < (size_t)rows * (size_t)(paddedCols / 4)) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "codes is shorter than rows * paddedCols / 4");
    return false;
  }
  if (activationsLength < (size_t)batch * (size_t)paddedCols) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "activations is shorter than batch * paddedCols");
    return false;
  }
  memset(job, 0, sizeof *job);
  job->codes = codes;
  job->rowBytes = (size_t)paddedCols / 4;
  job->rows = rows;
  job->paddedCols = paddedCols;
  job->batch = batch;
  job->activations = activations;
  return true;
}

static uint8_t *scratch_of(instance_state *state, size_t bytes) {
  if (bytes <= state->scratchBytes) return state->scratch;
  free(state->scratch);
  state->scratch = NULL;
  state->scratchBytes = 0;
  const size_t size = (bytes + bytes / 2 + 63) / 64 * 64;
  void *memory = NULL;
  if (posix_memalign(&memory, 64, size) != 0) return NULL;
  state->scratch = memory;
  state->scratchBytes = size;
  return state->scratch;
}

static napi_value run_job(napi_env env, trine_path path, ternary_job *job) {
  if (job->rows == 0 || job->batch == 0) return NULL;
  instance_state *state = state_of(env);
  const size_t sumsBytes = ((size_t)job->batch * sizeof(int32_t) + 63) / 64 * 64;
  const size_t activationBytes = (size_t)job->batch * (size_t)job->paddedCols;
  /* Batched tiles load each activation vector once per 4 weight rows; loads that split cache
   * lines made them 25-30% slower (Node's typed arrays start 16 bytes past a line), while this
   * copy costs about 1% of the call. Batch 1 loads each activation vector once per 4 weight
   * vectors and loses ~3%, so it keeps reading the caller's array in place. */
  const int copy = job->batch > 1 && ((uintptr_t)job->activations & 63) != 0;
  uint8_t *scratch = scratch_of(state, sumsBytes + (copy ? activationBytes : 0));
  if (!scratch) {
    napi_throw_error(env, "TRINE_NATIVE_MEMORY", "out of memory");
    return NULL;
  }
  if (copy) {
    memcpy(scratch + sumsBytes, job->activations, activationBytes);
    job->activations = (const int8_t *)(scratch + sumsBytes);
  }
  trine_matmul(state->pool, path, job, (int32_t *)scratch);
  return NULL;
}

/* ternaryMatmul(pathId, codes, rows, paddedCols, activations, batch, accumulators) */
static napi_value ternary_matmul(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[MAX_ARGS];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, "TRINE_NATIVE_ARGUMENT", "ternaryMatmul takes 7 arguments");
    return NULL;
  }
  trine_path path;
  ternary_job job;
  if (!parse_job(env, argv, &path, &job)) return NULL;
  void *accumulators;
  size_t length;
  if (!get_typed(env, argv[6], napi_int32_array, "accumulators", &accumulators, &length)) return NULL;
  if (length < (size_t)job.batch * (size_t)job.rows) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "accumulators is shorter than batch * rows");
    return NULL;
  }
  job.accumulators = accumulators;
  return run_job(env, path, &job);
}

/* ternaryMatmulScaled(pathId, codes, rows, paddedCols, activations, batch, scales, outputs):
 * outputs[b * rows + r] = acc * scales[b], rounded as JS would round it into a Float32Array. */
static napi_value ternary_matmul_scaled(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[MAX_ARGS];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, "TRINE_NATIVE_ARGUMENT", "ternaryMatmulScaled takes 8 arguments");
    return NULL;
  }
  trine_path path;
  ternary_job job;
  if (!parse_job(env, argv, &path, &job)) return NULL;
  void *scales, *outputs;
  size_t scalesLength, outputsLength;
  if (!get_typed(env, argv[6], napi_float32_array, "scales", &scales, &scalesLength) ||
      !get_typed(env, argv[7], napi_float32_array, "outputs", &outputs, &outputsLength)) {
    return NULL;
  }
  if (scalesLength < (size_t)job.batch || outputsLength < (size_t)job.batch * (size_t)job.rows) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "scales or outputs is too short");
    return NULL;
  }
  job.scales = scales;
  job.outputs = outputs;
  return run_job(env, path, &job);
}

/* bitLinear(pathId, codes, rows, paddedCols, cols, x, gain, batch, weightScale, outputs): the whole
 * BitLinear of MODEL.md for `batch` rows of x [batch, cols]: RMSNorm with `gain`, int8 quantisation
 * (s_x per row), the ternary product, and outputs = acc * fround(weightScale / s_x). One call
 * instead of four JS passes per row; bit-identical to src/engine/bit-linear.ts's JS composition. */
static napi_value bit_linear(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 10) {
    napi_throw_type_error(env, "TRINE_NATIVE_ARGUMENT", "bitLinear takes 10 arguments");
    return NULL;
  }
  trine_path path;
  void *codes, *x, *gain, *outputs;
  size_t codesLength, xLength, gainLength, outputsLength;
  int rows, paddedCols, cols, batch;
  double weightScale;
  if (!get_path(env, argv[0], &path) || !get_typed(env, argv[1], napi_uint8_array, "codes", &codes, &codesLength) ||
      !get_int(env, argv[2], "rows", 0, &rows) || !get_int(env, argv[3], "paddedCols", 0, &paddedCols) ||
      !get_int(env, argv[4], "cols", 1, &cols) || !get_typed(env, argv[5], napi_float32_array, "x", &x, &xLength) ||
      !get_typed(env, argv[6], napi_float32_array, "gain", &gain, &gainLength) ||
      !get_int(env, argv[7], "batch", 0, &batch) ||
      !get_typed(env, argv[9], napi_float32_array, "outputs", &outputs, &outputsLength)) {
    return NULL;
  }
  if (napi_get_value_double(env, argv[8], &weightScale) != napi_ok) {
    napi_throw_type_error(env, "TRINE_NATIVE_ARGUMENT", "weightScale must be a number");
    return NULL;
  }
  if (paddedCols % TRINE_BLOCK_COLUMNS != 0 || paddedCols > TRINE_MAX_PADDED_COLUMNS || cols > paddedCols ||
      paddedCols - cols >= TRINE_BLOCK_COLUMNS) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "paddedCols must be cols rounded up to a multiple of 256");
    return NULL;
  }
  if (codesLength < (size_t)rows * (size_t)(paddedCols / 4) || xLength < (size_t)batch * (size_t)cols ||
      gainLength < (size_t)cols || outputsLength < (size_t)batch * (size_t)rows) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "codes, x, gain or outputs is too short");
    return NULL;
  }
  if (rows == 0 || batch == 0) return NULL;
  const trine_bit_linear_weights weights = {codes, rows, cols, paddedCols, weightScale, gain};
  uint8_t *scratch = scratch_of(state_of(env), trine_bit_linear_scratch_bytes(batch, cols, paddedCols));
  if (!scratch) {
    napi_throw_error(env, "TRINE_NATIVE_MEMORY", "out of memory");
    return NULL;
  }
  trine_bit_linear(state_of(env)->pool, path, &weights, x, batch, outputs, scratch);
  return NULL;
}

/* Reads argument `index` as a float32 array of at least `minimum` elements. */
static bool get_floats(napi_env env, napi_value *argv, int index, const char *name, size_t minimum, float **out) {
  void *data;
  size_t length;
  if (!get_typed(env, argv[index], napi_float32_array, name, &data, &length)) return false;
  if (length < minimum) {
    char message[96];
    snprintf(message, sizeof message, "%s is shorter than %zu", name, minimum);
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", message);
    return false;
  }
  *out = data;
  return true;
}

/* rmsnorm(x, gain, eps, rows, n, out) */
static napi_value rmsnorm_rows(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int rows, n;
  double eps;
  float *x, *gain, *out;
  if (argc < 6 || napi_get_value_double(env, argv[2], &eps) != napi_ok || !get_int(env, argv[3], "rows", 0, &rows) ||
      !get_int(env, argv[4], "n", 1, &n) || !get_floats(env, argv, 0, "x", (size_t)rows * n, &x) ||
      !get_floats(env, argv, 1, "gain", (size_t)n, &gain) || !get_floats(env, argv, 5, "out", (size_t)rows * n, &out)) {
    throw_pending(env, "rmsnorm(x, gain, eps, rows, n, out)");
    return NULL;
  }
  trine_rmsnorm_rows(x, gain, eps, rows, n, out);
  return NULL;
}

/* gatedRecurrence(forget, input, normalizedGate, lowerBound | null, rows, d, states, sequences,
 * sequenceOfRow, out) */
static napi_value gated_recurrence(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int rows, d, sequences;
  float *forget, *input, *gate, *lowerBound = NULL, *states, *out;
  void *rowSequences;
  size_t rowSequencesLength;
  napi_valuetype boundType = napi_null;
  if (argc < 10 || !get_int(env, argv[4], "rows", 0, &rows) || !get_int(env, argv[5], "d", 1, &d) ||
      !get_int(env, argv[7], "sequences", 0, &sequences)) {
    throw_pending(env, "gatedRecurrence takes 10 arguments");
    return NULL;
  }
  const size_t size = (size_t)rows * (size_t)d;
  napi_typeof(env, argv[3], &boundType);
  if (!get_floats(env, argv, 0, "forget", size, &forget) || !get_floats(env, argv, 1, "input", size, &input) ||
      !get_floats(env, argv, 2, "normalizedGate", size, &gate) ||
      (boundType != napi_null && !get_floats(env, argv, 3, "lowerBound", (size_t)d, &lowerBound)) ||
      !get_floats(env, argv, 6, "states", (size_t)sequences * (size_t)d, &states) ||
      !get_typed(env, argv[8], napi_int32_array, "sequenceOfRow", &rowSequences, &rowSequencesLength) ||
      !get_floats(env, argv, 9, "out", size, &out)) {
    return NULL;
  }
  const int32_t *sequenceOfRow = rowSequences;
  if (rowSequencesLength < (size_t)rows) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "sequenceOfRow is shorter than rows");
    return NULL;
  }
  for (int r = 0; r < rows; r++) {
    if (sequenceOfRow[r] < 0 || sequenceOfRow[r] >= sequences) {
      napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "sequenceOfRow names a sequence out of range");
      return NULL;
    }
  }
  float *zeros = NULL;
  if (!lowerBound) {
    zeros = (float *)scratch_of(state_of(env), (size_t)d * sizeof(float));
    if (!zeros) {
      napi_throw_error(env, "TRINE_NATIVE_MEMORY", "out of memory");
      return NULL;
    }
    memset(zeros, 0, (size_t)d * sizeof(float));
  }
  trine_gated_recurrence(forget, input, gate, lowerBound, rows, d, states, sequenceOfRow, out, zeros);
  return NULL;
}

/* swiGlu(gateAndValue, rows, intermediate, hidden) */
static napi_value swiglu(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int rows, intermediate;
  float *gateAndValue, *hidden;
  if (argc < 4 || !get_int(env, argv[1], "rows", 0, &rows) || !get_int(env, argv[2], "intermediate", 1, &intermediate) ||
      !get_floats(env, argv, 0, "gateAndValue", (size_t)rows * 2 * (size_t)intermediate, &gateAndValue) ||
      !get_floats(env, argv, 3, "hidden", (size_t)rows * (size_t)intermediate, &hidden)) {
    throw_pending(env, "swiGlu(gateAndValue, rows, intermediate, hidden)");
    return NULL;
  }
  trine_swiglu(gateAndValue, rows, intermediate, hidden);
  return NULL;
}

static napi_value sampling_weights(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int count;
  double maxLogit, temperature;
  float *logits;
  void *candidates, *weights;
  size_t candidateCount, weightCount;
  if (argc < 6 || !get_int(env, argv[2], "count", 0, &count) ||
      napi_get_value_double(env, argv[3], &maxLogit) != napi_ok ||
      napi_get_value_double(env, argv[4], &temperature) != napi_ok ||
      !get_typed(env, argv[1], napi_int32_array, "candidates", &candidates, &candidateCount) ||
      !get_typed(env, argv[5], napi_float64_array, "weights", &weights, &weightCount) ||
      !get_floats(env, argv, 0, "logits", weightCount, &logits) || (size_t)count > candidateCount) {
    throw_pending(env, "samplingWeights(logits, candidates, count, maxLogit, temperature, weights)");
    return NULL;
  }
  /* Every candidate must index the vocabulary (logits and weights are vocabulary-sized). */
  const int32_t *ids = candidates;
  for (int i = 0; i < count; i++) {
    if (ids[i] < 0 || (size_t)ids[i] >= weightCount) {
      napi_throw_range_error(env, NULL, "samplingWeights: a candidate is outside the vocabulary");
      return NULL;
    }
  }
  napi_value total;
  CHECK(napi_create_double(env, trine_sampling_weights(logits, ids, count, maxLogit, temperature, weights), &total));
  return total;
}

/* A model registered once by createModel: pointers into the caller's typed arrays, which stay alive
 * through a reference to the array that holds them. */
typedef struct {
  trine_model model;
  napi_ref tensors;
} native_model;

#define TENSORS_PER_LAYER 16
#define BIT_LINEARS_PER_LAYER 6

static void finalize_model(napi_env env, void *data, void *hint) {
  (void)hint;
  native_model *native = data;
  napi_delete_reference(env, native->tensors);
  free(native->model.layers);
  free(native);
}

/* Element `index` of `tensors` as a typed array of `type` holding at least `minimum` elements. */
static bool tensor_at(napi_env env, napi_value tensors, uint32_t index, napi_typedarray_type type, size_t minimum,
                      void **data) {
  napi_value value;
  size_t length;
  char name[48];
  snprintf(name, sizeof name, "tensors[%u]", index);
  if (napi_get_element(env, tensors, index, &value) != napi_ok || !get_typed(env, value, type, name, data, &length)) {
    return false;
  }
  if (length < minimum) {
    char message[96];
    snprintf(message, sizeof message, "%s is shorter than %zu", name, minimum);
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", message);
    return false;
  }
  return true;
}

/* One BitLinear: codes and gain at tensors[index], tensors[index + 1]; its rows, cols and paddedCols
 * at shapes[3 * linear ..]; its weight scale at scales[linear]; rows x cols must be as expected. */
static bool bit_linear_at(napi_env env, napi_value tensors, uint32_t index, const int32_t *shapes,
                          const double *scales, int linear, int rows, int cols, trine_bit_linear_weights *out) {
  const int paddedCols = shapes[3 * linear + 2];
  if (shapes[3 * linear] != rows || shapes[3 * linear + 1] != cols || paddedCols % TRINE_BLOCK_COLUMNS != 0 ||
      paddedCols < cols || paddedCols - cols >= TRINE_BLOCK_COLUMNS || paddedCols > TRINE_MAX_PADDED_COLUMNS) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "a BitLinear's shape does not match the model config");
    return false;
  }
  void *codes, *gain;
  if (!tensor_at(env, tensors, index, napi_uint8_array, (size_t)rows * (size_t)(paddedCols / 4), &codes) ||
      !tensor_at(env, tensors, index + 1, napi_float32_array, (size_t)cols, &gain)) {
    return false;
  }
  *out = (trine_bit_linear_weights){codes, rows, cols, paddedCols, scales[linear], gain};
  return true;
}

/* createModel(hiddenSize, intermediateSize, vocabSize, numLayers, eps, tensors, shapes, weightScales):
 * tensors lists, per layer, attnNorm, gNorm, mlpNorm, lowerBound (or null), then codes and gain of
 * i, f, g, o, gate and down; then finalNorm, lm_head codes and gain. shapes holds rows, cols,
 * paddedCols and weightScales the scale of every BitLinear in the same order. */
static napi_value create_model(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int d, I, V, L;
  double eps;
  bool isArray = false;
  if (argc < 8 || !get_int(env, argv[0], "hiddenSize", 1, &d) || !get_int(env, argv[1], "intermediateSize", 1, &I) ||
      !get_int(env, argv[2], "vocabSize", 1, &V) || !get_int(env, argv[3], "numLayers", 1, &L) ||
      napi_get_value_double(env, argv[4], &eps) != napi_ok || napi_is_array(env, argv[5], &isArray) != napi_ok ||
      !isArray) {
    throw_pending(env, "createModel(hiddenSize, intermediateSize, vocabSize, numLayers, eps, tensors, shapes, "
                       "weightScales)");
    return NULL;
  }
  const int linears = L * BIT_LINEARS_PER_LAYER + 1;
  void *shapeData, *scaleData;
  size_t shapeLength, scaleLength;
  uint32_t tensorCount;
  if (!get_typed(env, argv[6], napi_int32_array, "shapes", &shapeData, &shapeLength) ||
      !get_typed(env, argv[7], napi_float64_array, "weightScales", &scaleData, &scaleLength)) {
    return NULL;
  }
  napi_get_array_length(env, argv[5], &tensorCount);
  if (shapeLength < (size_t)linears * 3 || scaleLength < (size_t)linears ||
      tensorCount < (uint32_t)(L * TENSORS_PER_LAYER + 3)) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "tensors, shapes or weightScales is too short");
    return NULL;
  }
  native_model *native = calloc(1, sizeof *native);
  trine_layer *layers = calloc((size_t)L, sizeof *layers);
  if (!native || !layers) {
    free(native);
    free(layers);
    napi_throw_error(env, "TRINE_NATIVE_MEMORY", "out of memory");
    return NULL;
  }
  native->model = (trine_model){d, I, V, L, eps, layers, NULL, {0}};
  const int32_t *shapes = shapeData;
  const double *scales = scaleData;
  bool ok = true;
  for (int l = 0; ok && l < L; l++) {
    const uint32_t t = (uint32_t)(l * TENSORS_PER_LAYER);
    const int b = l * BIT_LINEARS_PER_LAYER;
    trine_layer *layer = &layers[l];
    napi_value bound;
    napi_valuetype boundType = napi_null;
    ok = tensor_at(env, argv[5], t, napi_float32_array, (size_t)d, (void **)&layer->attnNorm) &&
         tensor_at(env, argv[5], t + 1, napi_float32_array, (size_t)d, (void **)&layer->gNorm) &&
         tensor_at(env, argv[5], t + 2, napi_float32_array, (size_t)d, (void **)&layer->mlpNorm) &&
         napi_get_element(env, argv[5], t + 3, &bound) == napi_ok && napi_typeof(env, bound, &boundType) == napi_ok &&
         (boundType == napi_null ||
          tensor_at(env, argv[5], t + 3, napi_float32_array, (size_t)d, (void **)&layer->lowerBound)) &&
         bit_linear_at(env, argv[5], t + 4, shapes, scales, b, d, d, &layer->iProj) &&
         bit_linear_at(env, argv[5], t + 6, shapes, scales, b + 1, d, d, &layer->fProj) &&
         bit_linear_at(env, argv[5], t + 8, shapes, scales, b + 2, d, d, &layer->gProj) &&
         bit_linear_at(env, argv[5], t + 10, shapes, scales, b + 3, d, d, &layer->oProj) &&
         bit_linear_at(env, argv[5], t + 12, shapes, scales, b + 4, 2 * I, d, &layer->gateProj) &&
         bit_linear_at(env, argv[5], t + 14, shapes, scales, b + 5, d, I, &layer->downProj);
  }
  const uint32_t t = (uint32_t)(L * TENSORS_PER_LAYER);
  ok = ok && tensor_at(env, argv[5], t, napi_float32_array, (size_t)d, (void **)&native->model.finalNorm) &&
       bit_linear_at(env, argv[5], t + 1, shapes, scales, linears - 1, V, d, &native->model.lmHead);
  napi_value handle;
  if (!ok || napi_create_reference(env, argv[5], 1, &native->tensors) != napi_ok) {
    free(layers);
    free(native);
    throw_pending(env, "createModel: could not hold the tensors");
    return NULL;
  }
  if (napi_create_external(env, native, finalize_model, NULL, &handle) != napi_ok) {
    napi_delete_reference(env, native->tensors);
    free(layers);
    free(native);
    throw_pending(env, "createModel: could not create the handle");
    return NULL;
  }
  return handle;
}

/* forwardLayers(model, pathId, x, rows, states, sequenceOfRow, logitRows, wanted, logits): every layer,
 * the final norm and lm_head over `rows` embedded token rows x [rows, d] (advanced in place); row r
 * advances states[sequenceOfRow[r]] ([L, d] floats). */
static napi_value forward_layers(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  native_model *native;
  trine_path path;
  int rows, wanted;
  bool isArray = false;
  if (argc < 9 || napi_get_value_external(env, argv[0], (void **)&native) != napi_ok || !get_path(env, argv[1], &path) ||
      !get_int(env, argv[3], "rows", 0, &rows) || napi_is_array(env, argv[4], &isArray) != napi_ok || !isArray ||
      !get_int(env, argv[7], "wanted", 0, &wanted)) {
    throw_pending(env, "forwardLayers(model, pathId, x, rows, states, sequenceOfRow, logitRows, wanted, logits)");
    return NULL;
  }
  const trine_model *m = &native->model;
  const size_t d = (size_t)m->hiddenSize;
  float *x, *logits;
  void *rowSequences, *logitRowData;
  size_t rowSequencesLength, logitRowsLength;
  if (!get_floats(env, argv, 2, "x", (size_t)rows * d, &x) ||
      !get_typed(env, argv[5], napi_int32_array, "sequenceOfRow", &rowSequences, &rowSequencesLength) ||
      !get_typed(env, argv[6], napi_int32_array, "logitRows", &logitRowData, &logitRowsLength) ||
      !get_floats(env, argv, 8, "logits", (size_t)wanted * (size_t)m->vocabSize, &logits)) {
    return NULL;
  }
  const int32_t *sequenceOfRow = rowSequences, *logitRows = logitRowData;
  if (rowSequencesLength < (size_t)rows || logitRowsLength < (size_t)wanted) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "sequenceOfRow or logitRows is too short");
    return NULL;
  }
  for (int k = 0; k < wanted; k++) {
    if (logitRows[k] < 0 || logitRows[k] >= rows) {
      napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "logitRows names a row out of range");
      return NULL;
    }
  }
  if (rows == 0) return NULL;
  uint32_t sequences;
  napi_get_array_length(env, argv[4], &sequences);
  instance_state *state = state_of(env);
  /* The forward scratch, then one state pointer per row. */
  const size_t scratchBytes = trine_forward_scratch_bytes(m, rows, wanted);
  uint8_t *scratch = scratch_of(state, scratchBytes + (size_t)rows * sizeof(float *));
  if (!scratch) {
    napi_throw_error(env, "TRINE_NATIVE_MEMORY", "out of memory");
    return NULL;
  }
  float **stateOfRow = (float **)(scratch + scratchBytes);
  /* Each sequence's state is looked up once per call, not once per layer. */
  int32_t lastSequence = -1;
  float *lastState = NULL;
  for (int r = 0; r < rows; r++) {
    const int32_t s = sequenceOfRow[r];
    if (s < 0 || (uint32_t)s >= sequences) {
      napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "sequenceOfRow names a sequence out of range");
      return NULL;
    }
    if (s != lastSequence) {
      napi_value value;
      void *data;
      size_t length;
      if (napi_get_element(env, argv[4], (uint32_t)s, &value) != napi_ok ||
          !get_typed(env, value, napi_float32_array, "states[s]", &data, &length)) {
        return NULL;
      }
      if (length < (size_t)m->numLayers * d) {
        napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "a state is shorter than numLayers * hiddenSize");
        return NULL;
      }
      lastSequence = s;
      lastState = data;
    }
    stateOfRow[r] = lastState;
  }
  trine_forward_layers(state->pool, path, m, x, rows, stateOfRow, logitRows, wanted, logits, scratch);
  return NULL;
}

/* setThreads(n): the pool that later calls on this JS thread split their rows across. */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int threads;
  if (argc < 1 || !get_int(env, argv[0], "threads", 1, &threads)) return NULL;
  if (threads > TRINE_MAX_THREADS) {
    napi_throw_range_error(env, "TRINE_NATIVE_ARGUMENT", "threads must be at most 64");
    return NULL;
  }
  instance_state *state = state_of(env);
  if (pool_threads(state->pool) == threads) return NULL;
  thread_pool *pool = pool_create(threads);
  if (!pool) {
    napi_throw_error(env, "TRINE_NATIVE_THREADS", "could not start the kernel threads");
    return NULL;
  }
  pool_destroy(state->pool);
  state->pool = pool;
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(napi_create_int32(env, pool_threads(state_of(env)->pool), &result));
  return result;
}

/* streamRead(bytes): the byte sum, read with the widest loads on every pool thread. */
static napi_value stream_read(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *bytes;
  size_t length;
  if (argc < 1 || !get_typed(env, argv[0], napi_uint8_array, "bytes", &bytes, &length)) return NULL;
  napi_value result;
  CHECK(napi_create_double(env, (double)trine_stream_read(state_of(env)->pool, bytes, length), &result));
  return result;
}

/* trimHeap(): gives the C heap's free pages back to the system, in every thread's arena, and says
 * whether any went. glibc keeps what a thread has freed for its next allocation: after a burst of
 * requests ~5-10 MB across the threads stays resident, idle. false where the C library has no
 * such call. */
static napi_value trim_heap(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value result;
  CHECK(napi_get_boolean(env, released != 0, &result));
  return result;
}

/* cacheLineOffset(view): the address of the view's first byte modulo 64, so that a loader can
 * place weights on cache lines (kernels read line-splitting weights ~8% slower). */
static napi_value cache_line_offset(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *bytes;
  size_t length;
  if (argc < 1 || !get_typed(env, argv[0], napi_uint8_array, "bytes", &bytes, &length)) return NULL;
  napi_value result;
  CHECK(napi_create_int32(env, (int32_t)((uintptr_t)bytes & 63), &result));
  return result;
}

static void finalize_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  instance_state *state = data;
  pool_destroy(state->pool);
  free(state->scratch);
  free(state);
}

static napi_value path_ids(napi_env env) {
  napi_value ids;
  if (napi_create_object(env, &ids) != napi_ok) return NULL;
  for (int p = 0; p < TRINE_PATH_COUNT; p++) {
    napi_value id;
    napi_create_int32(env, p, &id);
    napi_set_named_property(env, ids, trine_path_name((trine_path)p), id);
  }
  return ids;
}

static napi_value supported_paths(napi_env env) {
  napi_value list;
  if (napi_create_array(env, &list) != napi_ok) return NULL;
  uint32_t n = 0;
  for (int p = 0; p < TRINE_PATH_COUNT; p++) {
    if (!trine_path_supported((trine_path)p)) continue;
    napi_value name;
    napi_create_string_utf8(env, trine_path_name((trine_path)p), NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, list, n++, name);
  }
  return list;
}

NAPI_MODULE_INIT() {
  instance_state *state = calloc(1, sizeof *state);
  if (!state || !(state->pool = pool_create(1))) {
    free(state);
    napi_throw_error(env, "TRINE_NATIVE_MEMORY", "could not initialise the native kernels");
    return NULL;
  }
  if (napi_set_instance_data(env, state, finalize_state, NULL) != napi_ok) {
    pool_destroy(state->pool);
    free(state);
    return NULL;
  }
  napi_property_descriptor properties[] = {
      {"ternaryMatmul", NULL, ternary_matmul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ternaryMatmulScaled", NULL, ternary_matmul_scaled, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bitLinear", NULL, bit_linear, NULL, NULL, NULL, napi_enumerable, NULL},
      {"createModel", NULL, create_model, NULL, NULL, NULL, napi_enumerable, NULL},
      {"forwardLayers", NULL, forward_layers, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmsnorm", NULL, rmsnorm_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatedRecurrence", NULL, gated_recurrence, NULL, NULL, NULL, napi_enumerable, NULL},
      {"swiGlu", NULL, swiglu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"samplingWeights", NULL, sampling_weights, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"streamRead", NULL, stream_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cacheLineOffset", NULL, cache_line_offset, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimHeap", NULL, trim_heap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"paths", NULL, NULL, NULL, NULL, supported_paths(env), napi_enumerable, NULL},
      {"pathIds", NULL, NULL, NULL, NULL, path_ids(env), napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) {
    return NULL;
  }
  return exports;
}
