/* Sums every byte of a buffer with the widest loads the CPU has: the bandwidth roofline probe. */
#ifndef TRINE_STREAM_READ_H
#define TRINE_STREAM_READ_H

#include <stddef.h>
#include <stdint.h>

#include "thread_pool.h"

uint64_t trine_stream_read(thread_pool *pool, const uint8_t *bytes, size_t length);

#endif
