export interface TokenLogprob {
  token: number;
  logprob: number;
}

export interface TokenLogprobs {
  /** The chosen token and its logprob. */
  token: number;
  logprob: number;
  /** The `topCount` most likely tokens, most likely first, equal logprobs by lower id. May include the chosen token. */
  topLogprobs: TokenLogprob[];
}

/**
 * Log-probabilities of the chosen token and of the most likely alternatives, taken as the
 * log-softmax of the processed logits: after logit_bias, an output constraint's mask and the
 * penalties, before temperature and top_k/top_p/min_p. Under a constraint they are therefore those
 * of the masked distribution, the one actually sampled from.
 *
 * Why there: they describe the distribution the request steered the model to (a banned token
 * shows as banned) yet do not depend on how the draw was then shaped, so the same prompt reports
 * the same numbers under greedy and sampled decoding, and every token, including one a truncation
 * removed, has a finite, comparable value. Greedy and sampling read the same logits, so the chosen
 * token is always the arg-max of these under greedy decoding.
 */
export function tokenLogprobs(
  processedLogits: Float32Array,
  chosenToken: number,
  topCount: number,
): TokenLogprobs {
  let maxLogit = Number.NEGATIVE_INFINITY;
  for (let token = 0; token < processedLogits.length; token++)
    if (processedLogits[token] > maxLogit) maxLogit = processedLogits[token];
  let sumExp = 0;
  for (let token = 0; token < processedLogits.length; token++)
    sumExp += Math.exp(processedLogits[token] - maxLogit);
  const logNormaliser = maxLogit + Math.log(sumExp);

  return {
    token: chosenToken,
    logprob: processedLogits[chosenToken] - logNormaliser,
    // A token an output constraint forbids (logit -inf) had probability 0: it is no alternative,
    // so a constrained step may list fewer than topCount (and JSON has no -Infinity).
    topLogprobs: highestLogits(processedLogits, topCount)
      .filter((token) => processedLogits[token] > Number.NEGATIVE_INFINITY)
      .map((token) => ({ token, logprob: processedLogits[token] - logNormaliser })),
  };
}

/**
 * The `count` tokens with the highest logits, highest first. An insertion into a short sorted
 * list: most tokens cost one comparison with its last entry, so this is O(V) for count ≤ 20.
 */
function highestLogits(logits: Float32Array, count: number): number[] {
  const best: number[] = [];
  if (count === 0) return best;
  for (let token = 0; token < logits.length; token++) {
    const logit = logits[token];
    // Tokens arrive in id order, so a strict `>` leaves equal logits ranked by lower id.
    if (best.length === count && !(logit > logits[best[count - 1]])) continue;
    let position = best.length === count ? count - 1 : best.length;
    while (position > 0 && logit > logits[best[position - 1]]) {
      best[position] = best[position - 1];
      position--;
    }
    best[position] = token;
  }
  return best;
}
