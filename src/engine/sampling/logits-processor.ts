/**
 * One stage between the model's logits and the draw, with its own per-sequence state (Hugging
 * Face's LogitsProcessor, vLLM's logits processors). A sequence's sampler runs its processors in
 * order on a scratch copy of the logits, draws a token, then tells every processor which token
 * was drawn. So a new way of steering the output (a grammar's mask, a new penalty) is one new
 * processor, not an edit inside the sampler.
 */
export interface LogitsProcessor {
  /** Edits `logits` (the vocabulary's, already processed by the stages before) in place. */
  process(logits: Float32Array): void;
  /** The token drawn after this step: a stateful processor advances here. */
  accept(token: number): void;
  /** An independent copy of this processor's state, for saving and restoring a sequence. */
  clone(): LogitsProcessor;
  /** Whether the output is complete (a grammar that has matched to its end): the sequence stops. */
  isFinished?(): boolean;
  /** Frees what the processor holds outside the JavaScript heap (a grammar matcher's memory). */
  dispose?(): void;
}

/** logit_bias: a fixed amount added to listed tokens' logits. Stateless. */
export function logitBiasProcessor(bias: Readonly<Record<string, number>>): LogitsProcessor {
  const entries = Object.entries(bias).map(([token, amount]) => [Number(token), amount] as const);
  const processor: LogitsProcessor = {
    process(logits) {
      for (const [token, amount] of entries) logits[token] += amount;
    },
    accept() {},
    clone: () => processor,
  };
  return processor;
}
