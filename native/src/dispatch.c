/* One kernel call: the activation-sum correction, then the rows, split across the thread pool. */
#include "dispatch.h"

/*
 * Below this many multiply-adds a call runs on the calling thread alone: handing rows to a spinning
 * worker costs about a microsecond, a sleeping one tens, and 2^16 ternary MACs take only ~1 us.
 */
#define MIN_PARALLEL_MACS (1u << 16)

/*
 * Chunks per thread: more than one, so that a thread slowed by a neighbour on the machine hands
 * its remaining rows to the others (see thread_pool.c), but none under MIN_CHUNK_MACS (1 MiB of
 * weights at batch 1): every chunk starts four new weight streams that the prefetchers must pick
 * up again, and with 2^19-MAC chunks two threads ran 1.2-1.4x one thread on 1-2 MiB matrices
 * where one chunk per thread ran 1.7x.
 */
#define CHUNKS_PER_THREAD 4
#define MIN_CHUNK_MACS (1u << 22)

int trine_chunk_count(int threads, double macs, int units) {
  int chunks = (int)(macs / MIN_CHUNK_MACS);
  if (chunks > threads * CHUNKS_PER_THREAD) chunks = threads * CHUNKS_PER_THREAD;
  if (chunks < threads) chunks = threads;
  if (chunks > units) chunks = units;
  return chunks > 0 ? chunks : 1;
}

typedef struct {
  const ternary_job *job;
  ternary_rows_fn kernel;
  int tilesPerChunk;
} split_context;

/* Chunks are runs of whole 4-row tiles, the unit every kernel is written for. */
static void run_chunk(void *raw, int chunk) {
  const split_context *context = raw;
  const int begin = chunk * context->tilesPerChunk * 4;
  int end = begin + context->tilesPerChunk * 4;
  if (end > context->job->rows) end = context->job->rows;
  if (begin < end) context->kernel(context->job, begin, end);
}

void trine_matmul(thread_pool *pool, trine_path path, ternary_job *job, int32_t *activationSums) {
  for (int b = 0; b < job->batch; b++) {
    const int8_t *x = job->activations + (size_t)b * job->paddedCols;
    int32_t sum = 0;
    for (int c = 0; c < job->paddedCols; c++) sum += x[c];
    activationSums[b] = sum;
  }
  job->activationSums = activationSums;
  const ternary_rows_fn kernel = trine_path_kernel(path);
  const double macs = (double)job->rows * job->paddedCols * job->batch;
  const int threads = pool_threads(pool);
  if (threads == 1 || macs < MIN_PARALLEL_MACS || job->rows < 8) {
    kernel(job, 0, job->rows);
    return;
  }
  const int tiles = (job->rows + 3) / 4;
  const int chunks = trine_chunk_count(threads, macs, tiles);
  split_context context = {job, kernel, (tiles + chunks - 1) / chunks};
  pool_run(pool, run_chunk, &context, (tiles + context.tilesPerChunk - 1) / context.tilesPerChunk);
}
