import { forward } from "../engine/forward.js";
import type { EngineKernel } from "../engine/kernels/kernel.js";
import type { Model } from "../engine/model.js";
import { createState } from "../engine/state.js";
import { Workspace } from "../engine/workspace.js";

/**
 * The evaluation protocol shared with train/ (train/README.md): the text's ids are cut into
 * consecutive windows of `window` tokens; each window is scored from a fresh state with input
 * [bos] + window[:-1], so every token of the text is predicted exactly once. Without a bos
 * token, a window's first token is context only and is not scored.
 */
export const DEFAULT_EVAL_WINDOW = 512;
/** Rows per forward call: the batched kernel path, with bounded logits memory (rows x V floats). */
const ROWS_PER_CALL = 64;

export interface NllResult {
  /** Tokens scored. */
  readonly tokens: number;
  /** Summed negative log-likelihood in nats. */
  readonly totalNll: number;
}

export function scoreTokens(
  model: Model,
  ids: readonly number[],
  bosTokenId: number | undefined,
  kernel: EngineKernel,
  window = DEFAULT_EVAL_WINDOW,
  onProgress?: (scored: number, total: number) => void,
): NllResult {
  const V = model.config.vocabSize;
  const ws = new Workspace();
  let tokens = 0;
  let totalNll = 0;
  for (let start = 0; start < ids.length; start += window) {
    const targets = ids.slice(start, start + window);
    const inputs = bosTokenId === undefined ? targets.slice(0, -1) : [bosTokenId, ...targets.slice(0, -1)];
    const scored = bosTokenId === undefined ? targets.slice(1) : targets;
    const state = createState(model.config);
    for (let from = 0; from < inputs.length; from += ROWS_PER_CALL) {
      const rows = inputs.slice(from, from + ROWS_PER_CALL);
      const logits = forward(
        model,
        [state],
        { tokens: rows, sequenceOfRow: rows.map(() => 0), logitRows: rows.map((_, k) => k) },
        kernel,
        ws,
      );
      rows.forEach((_, k) => {
        totalNll += negativeLogLikelihood(logits, k * V, V, scored[from + k]);
      });
      tokens += rows.length;
    }
    onProgress?.(Math.min(ids.length, start + window), ids.length);
  }
  return { tokens, totalNll };
}

/** -log softmax(logits)[target], computed stably in float64. */
function negativeLogLikelihood(logits: Float32Array, offset: number, V: number, target: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < V; k++) if (logits[offset + k] > max) max = logits[offset + k];
  let sum = 0;
  for (let k = 0; k < V; k++) sum += Math.exp(logits[offset + k] - max);
  return max + Math.log(sum) - logits[offset + target];
}
