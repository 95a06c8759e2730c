/*
 * A small persistent thread pool for splitting one kernel call across cores. A call is cut into
 * chunks that the calling thread and the workers claim one at a time, so a worker the OS has not
 * scheduled yet simply claims nothing, instead of holding the whole call up.
 */
#ifndef TRINE_THREAD_POOL_H
#define TRINE_THREAD_POOL_H

#define TRINE_MAX_THREADS 64
/* Chunks per call: the claim counter packs the count into 16 bits. */
#define TRINE_MAX_CHUNKS 65535

typedef void (*pool_chunk_fn)(void *context, int chunk);
typedef struct thread_pool thread_pool;

/* Starts threads - 1 workers; NULL when they cannot be created. */
thread_pool *pool_create(int threads);
void pool_destroy(thread_pool *pool);
int pool_threads(const thread_pool *pool);
/* Runs fn(context, i) for every i in [0, chunks) on the caller and the workers, and returns when
 * all have finished. chunks must be in [1, TRINE_MAX_CHUNKS]. */
void pool_run(thread_pool *pool, pool_chunk_fn fn, void *context, int chunks);

#endif
