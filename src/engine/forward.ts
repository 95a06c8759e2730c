import { bitLinear } from "./bit-linear.js";
import { embeddingRow } from "./embedding.js";
import { glu } from "./glu.js";
import type { EngineKernel } from "./kernels/kernel.js";
import { mlgru } from "./mlgru.js";
import type { Model } from "./model.js";
import { rmsnorm } from "./rmsnorm.js";
import type { RecurrentState } from "./state.js";
import type { Workspace } from "./workspace.js";

/**
 * A batch of token rows for one forward pass. Row r feeds `tokens[r]` to sequence
 * `sequenceOfRow[r]` (an index into the `states` passed to forward); the rows of one sequence
 * must be in order. One sequence with many rows is a prefill; many sequences with one row each
 * is a batched decode step; a mix of both is continuous batching.
 */
export interface TokenBatch {
  readonly tokens: ArrayLike<number>;
  readonly sequenceOfRow: ArrayLike<number>;
  /** Rows whose next-token logits are wanted, ascending (often the last row of each sequence). */
  readonly logitRows: ArrayLike<number>;
}

/**
 * The forward pass of MODEL.md over a token batch: embedding, L layers of MLGRU + GLU with
 * residuals, final norm, lm_head. Advances every state in place. Returns the logits of
 * `logitRows` as [logitRows.length, V] in a workspace buffer that the next call overwrites.
 */
export function forward(
  model: Model,
  states: readonly RecurrentState[],
  batch: TokenBatch,
  kernel: EngineKernel,
  ws: Workspace,
): Float32Array {
  const { hiddenSize: d, vocabSize: V } = model.config;
  const rows = batch.tokens.length;
  if (batch.sequenceOfRow.length !== rows)
    throw new RangeError("sequenceOfRow must have one entry per token");

  const x = ws.float("x", rows * d);
  for (let r = 0; r < rows; r++) {
    const token = batch.tokens[r];
    if (!Number.isInteger(token) || token < 0 || token >= V) {
      throw new RangeError(`token id ${token} is outside the vocabulary (0..${V - 1})`);
    }
    embeddingRow(model.embedding, d, token, x, r * d);
  }

  const stateValues = ws.stateValues(states);
  const wanted = batch.logitRows.length;
  const logits = ws.float("logits", wanted * V);
  if (kernel.forwardLayers) {
    // One native call for the whole pass: the JS loop below is its reference.
    const sequenceOfRow = ws.indices("sequenceOfRow", rows);
    for (let r = 0; r < rows; r++) sequenceOfRow[r] = batch.sequenceOfRow[r];
    const logitRows = ws.indices("logitRows", wanted);
    for (let k = 0; k < wanted; k++) logitRows[k] = batch.logitRows[k];
    kernel.forwardLayers(model, x, rows, stateValues, sequenceOfRow, logitRows, wanted, logits);
  } else {
    forwardLayers(model, x, rows, stateValues, batch, kernel, ws, logits);
  }
  for (let r = 0; r < rows; r++) states[batch.sequenceOfRow[r]].position++;
  return logits.subarray(0, wanted * V);
}

/**
 * The layers, final norm and lm_head of forward(), one step at a time through the kernel: the
 * reference for a kernel's one-call `forwardLayers`. Advances x [rows, d] and the states in place
 * and writes the logits of `batch.logitRows` into `logits`.
 */
function forwardLayers(
  model: Model,
  x: Float32Array,
  rows: number,
  stateValues: readonly Float32Array[],
  batch: TokenBatch,
  kernel: EngineKernel,
  ws: Workspace,
  logits: Float32Array,
): void {
  const { hiddenSize: d, rmsNormEps: eps, numLayers } = model.config;
  const h = ws.float("h", rows * d);
  const mixed = ws.float("mixed", rows * d);
  for (let l = 0; l < numLayers; l++) {
    const layer = model.layers[l];
    const lowerBound =
      l > 0 && model.config.useLowerBound ? model.lowerBounds.subarray(l * d, (l + 1) * d) : undefined;

    (kernel.rmsnorm ?? rmsnorm)(x, layer.attnNorm, eps, rows, d, h);
    const o = mlgru(layer, lowerBound, eps, h, rows, d, stateValues, l * d, batch.sequenceOfRow, kernel, ws);
    bitLinear(layer.oProj, o, rows, mixed, kernel, ws);
    addInPlace(x, mixed, rows * d);

    (kernel.rmsnorm ?? rmsnorm)(x, layer.mlpNorm, eps, rows, d, h);
    glu(layer, h, rows, mixed, kernel, ws);
    addInPlace(x, mixed, rows * d);
  }

  const wanted = batch.logitRows.length;
  if (wanted === 0) return;
  const last = ws.float("lastHidden", wanted * d);
  for (let k = 0; k < wanted; k++)
    last.set(x.subarray(batch.logitRows[k] * d, (batch.logitRows[k] + 1) * d), k * d);
  const normed = ws.float("finalNormed", wanted * d);
  (kernel.rmsnorm ?? rmsnorm)(last, model.finalNorm, eps, wanted, d, normed);
  bitLinear(model.lmHead, normed, wanted, logits, kernel, ws);
}

function addInPlace(x: Float32Array, delta: Float32Array, n: number): void {
  for (let k = 0; k < n; k++) x[k] += delta[k];
}
