/*
 * Work is handed out through one 64-bit claim word: generation (32 bits) | chunk count (16) | next
 * chunk (16). A thread takes a chunk by compare-and-swap on the whole word, so a thread still
 * holding an old generation's word can never take a chunk of a newer call, and the task and its
 * context are only read after a successful claim, while the caller is still waiting for that chunk.
 *
 * Idle workers watch the generation. A decode step makes a few hundred kernel calls a few
 * microseconds apart, and waking a thread from a condition variable costs tens of microseconds (as
 * much as a whole small matmul), so a worker spins for SPIN_NANOSECONDS after its last chunk before
 * it sleeps. The spin is bounded so that an idle server does not keep cores busy.
 */
#define _GNU_SOURCE
#include "thread_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_NANOSECONDS 200000

#define CLAIM_GENERATION(word) ((uint32_t)((word) >> 32))
#define CLAIM_COUNT(word) ((uint32_t)(((word) >> 16) & 0xffff))
#define CLAIM_NEXT(word) ((uint32_t)((word) & 0xffff))

typedef struct {
  thread_pool *pool;
  int index;
} worker_args;

struct thread_pool {
  int count;
  pthread_t threads[TRINE_MAX_THREADS];
  worker_args args[TRINE_MAX_THREADS];
  pool_chunk_fn fn;
  void *context;
  _Alignas(64) _Atomic uint64_t claim;
  _Alignas(64) atomic_int done;
  atomic_int sleepers;
  atomic_int stopping;
  pthread_mutex_t lock;
  pthread_cond_t wake;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Claims and runs chunks of `generation` until none are left, then reports how many it ran (one
 * shared write per thread rather than per chunk: each costs a cache-line transfer). */
static void run_chunks(thread_pool *pool, uint32_t generation) {
  uint64_t word = atomic_load_explicit(&pool->claim, memory_order_acquire);
  int ran = 0;
  for (;;) {
    if (CLAIM_GENERATION(word) != generation || CLAIM_NEXT(word) >= CLAIM_COUNT(word)) break;
    if (atomic_compare_exchange_weak_explicit(&pool->claim, &word, word + 1, memory_order_acq_rel,
                                              memory_order_acquire)) {
      pool->fn(pool->context, (int)CLAIM_NEXT(word));
      ran++;
      word = atomic_load_explicit(&pool->claim, memory_order_acquire);
    }
  }
  if (ran > 0) atomic_fetch_add_explicit(&pool->done, ran, memory_order_release);
}

/* Waits until the generation moves past `seen` (or the pool stops) and returns the new one. */
static uint32_t wait_for_work(thread_pool *pool, uint32_t seen) {
  const uint64_t deadline = now_ns() + SPIN_NANOSECONDS;
  for (unsigned spins = 0;; spins++) {
    const uint32_t current = CLAIM_GENERATION(atomic_load_explicit(&pool->claim, memory_order_acquire));
    if (current != seen || atomic_load(&pool->stopping)) return current;
    cpu_relax();
    if ((spins & 255) == 255 && now_ns() > deadline) break;
  }
  pthread_mutex_lock(&pool->lock);
  /* sleepers is raised before the generation is re-read, and pool_run publishes a generation
   * before it reads sleepers (both sequentially consistent), so no wake-up falls in between. */
  atomic_fetch_add(&pool->sleepers, 1);
  uint32_t current;
  while ((current = CLAIM_GENERATION(atomic_load(&pool->claim))) == seen && !atomic_load(&pool->stopping)) {
    pthread_cond_wait(&pool->wake, &pool->lock);
  }
  atomic_fetch_sub(&pool->sleepers, 1);
  pthread_mutex_unlock(&pool->lock);
  return current;
}

static void *worker_main(void *raw) {
  thread_pool *pool = ((const worker_args *)raw)->pool;
  /* Not a fresh load: a call published before this thread first ran must still count as new. */
  uint32_t seen = 0;
  for (;;) {
    seen = wait_for_work(pool, seen);
    if (atomic_load(&pool->stopping)) return NULL;
    run_chunks(pool, seen);
  }
}

thread_pool *pool_create(int threads) {
  if (threads < 1) threads = 1;
  if (threads > TRINE_MAX_THREADS) threads = TRINE_MAX_THREADS;
  thread_pool *pool = calloc(1, sizeof *pool);
  if (!pool) return NULL;
  pool->count = 1;
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  for (int i = 1; i < threads; i++) {
    pool->args[i].pool = pool;
    pool->args[i].index = i;
    if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->args[i]) != 0) {
      pool_destroy(pool);
      return NULL;
    }
    pool->count = i + 1;
  }
  return pool;
}

void pool_destroy(thread_pool *pool) {
  if (!pool) return;
  atomic_store(&pool->stopping, 1);
  pthread_mutex_lock(&pool->lock);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  for (int i = 1; i < pool->count; i++) pthread_join(pool->threads[i], NULL);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  free(pool);
}

int pool_threads(const thread_pool *pool) { return pool ? pool->count : 1; }

void pool_run(thread_pool *pool, pool_chunk_fn fn, void *context, int chunks) {
  if (!pool || pool->count == 1 || chunks == 1) {
    for (int i = 0; i < chunks; i++) fn(context, i);
    return;
  }
  pool->fn = fn;
  pool->context = context;
  atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
  const uint32_t generation = CLAIM_GENERATION(atomic_load(&pool->claim)) + 1;
  atomic_store(&pool->claim, ((uint64_t)generation << 32) | ((uint64_t)chunks << 16));
  if (atomic_load(&pool->sleepers) > 0) {
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
  }
  run_chunks(pool, generation);
  /* Only chunks a worker has already claimed can be outstanding here. A worker's chunks count as
   * done only once it finds no more to claim, which is soon after its last one finishes. */
  while (atomic_load_explicit(&pool->done, memory_order_acquire) < chunks) cpu_relax();
}
