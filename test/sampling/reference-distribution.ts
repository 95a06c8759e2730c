import type { SamplingParams } from "../../src/engine/sampling/sampling-params.js";

/**
 * The distribution the sampler should draw from, computed the obvious way: softmax(logits / T)
 * over the whole vocabulary, a full sort, then each truncation applied to the renormalised
 * result of the previous one, exactly as the definitions read. Slow, and meant to be.
 */
export function referenceDistribution(logits: ArrayLike<number>, params: SamplingParams): number[] {
  const temperature = params.temperature ?? 1;
  const ranked = rankOrder(logits);
  const maxLogit = logits[ranked[0]];
  const probabilities = Array.from(logits, (logit) => Math.exp((logit - maxLogit) / temperature));

  let kept = ranked;
  if (params.top_k) kept = kept.slice(0, params.top_k);
  normalise(probabilities, kept);

  const topP = params.top_p ?? 1;
  if (topP < 1) {
    let cumulative = 0;
    let size = 0;
    while (size < kept.length && cumulative < topP) cumulative += probabilities[kept[size++]];
    kept = kept.slice(0, size);
    normalise(probabilities, kept);
  }

  const minP = params.min_p ?? 0;
  if (minP > 0) {
    const threshold = minP * probabilities[kept[0]];
    kept = kept.filter((token) => probabilities[token] >= threshold);
    normalise(probabilities, kept);
  }

  const distribution = new Array<number>(logits.length).fill(0);
  for (const token of kept) distribution[token] = probabilities[token];
  return distribution;
}

/** Token ids by descending logit, equal logits by ascending id. */
export function rankOrder(logits: ArrayLike<number>): number[] {
  return Array.from({ length: logits.length }, (_, token) => token).sort(
    (a, b) => logits[b] - logits[a] || a - b,
  );
}

function normalise(probabilities: number[], kept: readonly number[]): void {
  let total = 0;
  for (const token of kept) total += probabilities[token];
  for (const token of kept) probabilities[token] /= total;
}
