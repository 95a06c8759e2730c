import type { LogitsProcessor } from "./logits-processor.js";

/**
 * The penalties on tokens a sequence has already seen, as logits processors. Both remember only
 * the tokens a sequence touched (a few hundred or thousand of a vocabulary of tens of thousands),
 * and visit only those.
 */

/**
 * The HF/CTRL repetition penalty over prompt and output tokens. Dividing a positive logit and
 * multiplying a negative one both make the token less likely (for a penalty > 1); scaling a
 * negative logit down would have made it more likely.
 */
export function repetitionPenaltyProcessor(
  penalty: number,
  promptIds: ArrayLike<number>,
  seen: Set<number> = new Set(Array.from(promptIds)),
): LogitsProcessor {
  return {
    process(logits) {
      for (const token of seen) {
        const logit = logits[token];
        logits[token] = logit > 0 ? logit / penalty : logit * penalty;
      }
    },
    accept(token) {
      seen.add(token);
    },
    clone: () => repetitionPenaltyProcessor(penalty, [], new Set(seen)),
  };
}

/**
 * OpenAI's frequency and presence penalties over generated tokens (prompt tokens carry none):
 * subtracted per occurrence, and once for having occurred at all.
 */
export function occurrencePenaltyProcessor(
  frequencyPenalty: number,
  presencePenalty: number,
  counts: Map<number, number> = new Map(),
): LogitsProcessor {
  return {
    process(logits) {
      for (const [token, count] of counts) logits[token] -= count * frequencyPenalty + presencePenalty;
    },
    accept(token) {
      counts.set(token, (counts.get(token) ?? 0) + 1);
    },
    clone: () => occurrencePenaltyProcessor(frequencyPenalty, presencePenalty, new Map(counts)),
  };
}
