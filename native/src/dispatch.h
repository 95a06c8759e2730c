/* Runs one kernel call: the activation sums, then the rows, split across the thread pool. */
#ifndef TRINE_DISPATCH_H
#define TRINE_DISPATCH_H

#include "kernels.h"
#include "thread_pool.h"

/* How many chunks a call of `macs` multiply-adds over `units` indivisible pieces is cut into. */
int trine_chunk_count(int threads, double macs, int units);

/* Fills job->activationSums (caller-owned, [batch]) and computes every row on the pool. */
void trine_matmul(thread_pool *pool, trine_path path, ternary_job *job, int32_t *activationSums);

#endif
