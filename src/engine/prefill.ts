import { forward } from "./forward.js";
import type { EngineKernel } from "./kernels/kernel.js";
import type { Model } from "./model.js";
import type { RecurrentState } from "./state.js";
import type { Workspace } from "./workspace.js";

/**
 * Rows per forward call when feeding a long prompt: enough to batch the kernels well, few
 * enough that the workspace stays small and a scheduler can interleave decode steps.
 */
export const PREFILL_CHUNK_TOKENS = 64;

/**
 * Feeds `tokens` to one sequence in chunks and returns a copy of the logits after the last
 * token (or after every token when `allLogits`, as [tokens.length, V]).
 */
export function prefill(
  model: Model,
  state: RecurrentState,
  tokens: ArrayLike<number>,
  kernel: EngineKernel,
  ws: Workspace,
  options: { allLogits?: boolean; chunkTokens?: number } = {},
): Float32Array {
  const V = model.config.vocabSize;
  const chunk = options.chunkTokens ?? PREFILL_CHUNK_TOKENS;
  const n = tokens.length;
  if (n === 0) throw new RangeError("prefill needs at least one token");
  const out = new Float32Array((options.allLogits ? n : 1) * V);
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const rows = end - start;
    const chunkTokens = Array.from({ length: rows }, (_, k) => tokens[start + k]);
    const logitRows = options.allLogits ? chunkTokens.map((_, k) => k) : end === n ? [rows - 1] : [];
    const logits = forward(
      model,
      [state],
      { tokens: chunkTokens, sequenceOfRow: new Array(rows).fill(0), logitRows },
      kernel,
      ws,
    );
    if (options.allLogits) out.set(logits, start * V);
    else if (end === n) out.set(logits);
  }
  return out;
}
