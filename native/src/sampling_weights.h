#ifndef TRINE_SAMPLING_WEIGHTS_H
#define TRINE_SAMPLING_WEIGHTS_H

#include <stdint.h>

/*
 * The sampler's weights (src/engine/sampling/sampler.ts samplingWeights): for each candidate c,
 * weights[c] = exp((logits[c] - maxLogit) / temperature) by Tang's method exactly as exp.ts
 * computes it, and their sum in candidate order, which it returns. Bit for bit the JS.
 */
double trine_sampling_weights(const float *logits, const int32_t *candidates, int count, double maxLogit,
                              double temperature, double *weights);

#endif
