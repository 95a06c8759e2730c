import { sigmoid, silu } from "./activations.js";
import { bitLinear } from "./bit-linear.js";
import type { EngineKernel } from "./kernels/kernel.js";
import type { LayerWeights } from "./model.js";
import { rmsnorm } from "./rmsnorm.js";
import type { Workspace } from "./workspace.js";

/**
 * The MLGRU token mixer of one layer (MODEL.md, "One layer", first half), over a batch of token
 * rows. Row r belongs to sequence `sequenceOfRow[r]` and advances that sequence's state slice
 * `states[sequence]` (d floats of this layer, at `stateOffset`); rows of one sequence must be in
 * order. Prefill (many rows, one sequence) and batched decode (one row per sequence) are the
 * same call. Returns the mixer output o [rows, d], to which the caller applies o_proj.
 */
export function mlgru(
  layer: LayerWeights,
  lowerBound: Float32Array | undefined,
  eps: number,
  h: Float32Array,
  rows: number,
  d: number,
  states: readonly Float32Array[],
  stateOffset: number,
  sequenceOfRow: ArrayLike<number>,
  kernel: EngineKernel,
  ws: Workspace,
): Float32Array {
  const input = ws.float("mlgru.i", rows * d);
  const forget = ws.float("mlgru.f", rows * d);
  const gate = ws.float("mlgru.g", rows * d);
  bitLinear(layer.iProj, h, rows, input, kernel, ws);
  bitLinear(layer.fProj, h, rows, forget, kernel, ws);
  bitLinear(layer.gProj, h, rows, gate, kernel, ws);

  const normalizedGate = ws.float("mlgru.gNormed", rows * d);
  (kernel.rmsnorm ?? rmsnorm)(gate, layer.gNorm, eps, rows, d, normalizedGate);

  const out = ws.float("mlgru.o", rows * d);
  if (kernel.gatedRecurrence) {
    // The fast path takes this layer's states stacked; they are small (d floats a sequence).
    const stacked = ws.float("mlgru.states", states.length * d);
    for (let s = 0; s < states.length; s++)
      stacked.set(states[s].subarray(stateOffset, stateOffset + d), s * d);
    const rowSequences = ws.sequenceOfRow(rows);
    for (let r = 0; r < rows; r++) rowSequences[r] = sequenceOfRow[r];
    kernel.gatedRecurrence(
      forget,
      input,
      normalizedGate,
      lowerBound ?? null,
      rows,
      d,
      stacked,
      states.length,
      rowSequences,
      out,
    );
    for (let s = 0; s < states.length; s++) states[s].set(stacked.subarray(s * d, (s + 1) * d), stateOffset);
  } else {
    gatedRecurrence(
      forget,
      input,
      normalizedGate,
      lowerBound,
      rows,
      d,
      states,
      stateOffset,
      sequenceOfRow,
      out,
    );
  }
  return out;
}

/**
 * The elementwise heart of the MLGRU, given the projections of each row:
 * f = sigmoid(f) (raised to the layer's lower bound), i = silu(i) * (1 - f),
 * state = f * state + i, o = rmsnorm(g) * silu(state).
 */
export function gatedRecurrence(
  forget: Float32Array,
  input: Float32Array,
  normalizedGate: Float32Array,
  lowerBound: Float32Array | undefined,
  rows: number,
  d: number,
  states: readonly Float32Array[],
  stateOffset: number,
  sequenceOfRow: ArrayLike<number>,
  out: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const state = states[sequenceOfRow[r]];
    const base = r * d;
    for (let j = 0; j < d; j++) {
      let f = sigmoid(forget[base + j]);
      if (lowerBound) f = lowerBound[j] + (1 - lowerBound[j]) * f;
      const i = silu(input[base + j]) * (1 - f);
      const s = Math.fround(f * state[stateOffset + j] + i);
      state[stateOffset + j] = s;
      // NB: the gate is normalised and the state is swished, not the other way round.
      out[base + j] = normalizedGate[base + j] * silu(s);
    }
  }
}
