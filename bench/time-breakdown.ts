import { bitLinear } from "../src/engine/bit-linear.js";
import { swiGlu } from "../src/engine/glu.js";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import { gatedRecurrence } from "../src/engine/mlgru.js";
import type { BitLinearWeights, Model } from "../src/engine/model.js";
import { rmsnorm } from "../src/engine/rmsnorm.js";
import { Workspace } from "../src/engine/workspace.js";
import { argmax } from "./throughput.js";

/**
 * Time per decode step split by part, measured by running each part of the forward pass on its
 * own at the model's shapes and batch size, through the same functions (and the same kernel fast
 * paths) the forward pass uses. The sum is printed beside the measured whole step, so a part
 * left out would show.
 */
export interface TimeBreakdown {
  /** Milliseconds per decode step (all B sequences), by part. */
  readonly bitlinear_layers_ms: number;
  readonly lm_head_ms: number;
  readonly layer_norms_ms: number;
  readonly recurrence_ms: number;
  readonly glu_elementwise_ms: number;
  readonly sampling_ms: number;
  readonly sum_ms: number;
}

/** Until the JIT has optimised the JS parts (a cold arg-max over 32,000 logits took 0.6 ms, a warm one 0.04). */
const WARM_UP_MS = 50;

function timeIt(repeat: number, body: () => void): number {
  const warmUntil = performance.now() + WARM_UP_MS;
  do body();
  while (performance.now() < warmUntil);
  const start = performance.now();
  for (let k = 0; k < repeat; k++) body();
  return (performance.now() - start) / repeat;
}

export function measureTimeBreakdown(
  model: Model,
  kernel: EngineKernel,
  batch: number,
  repeat = 5,
): TimeBreakdown {
  const { hiddenSize: d, vocabSize: V, intermediateSize: I, rmsNormEps: eps, numLayers: L } = model.config;
  const ws = new Workspace();
  const random = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
  const x = random(batch * Math.max(d, I));
  const y = new Float32Array(batch * Math.max(V, 2 * I));
  const linears: BitLinearWeights[] = model.layers.flatMap((l) => [
    l.iProj,
    l.fProj,
    l.gProj,
    l.oProj,
    l.gateProj,
    l.downProj,
  ]);
  const bitlinearLayers = timeIt(repeat, () => {
    for (const l of linears) bitLinear(l, x, batch, y, kernel, ws);
  });
  const lmHead = timeIt(repeat, () => bitLinear(model.lmHead, x, batch, y, kernel, ws));
  const norm = kernel.rmsnorm ?? rmsnorm;
  const out = new Float32Array(batch * d);
  const layerNorms = timeIt(repeat, () => {
    for (const layer of model.layers) {
      norm(x, layer.attnNorm, eps, batch, d, out);
      norm(x, layer.gNorm, eps, batch, d, out);
      norm(x, layer.mlpNorm, eps, batch, d, out);
    }
    norm(x, model.finalNorm, eps, batch, d, out);
  });
  const states = Array.from({ length: batch }, () => new Float32Array(L * d));
  const stacked = new Float32Array(batch * d);
  const rows = states.map((_, b) => b);
  const rowSequences = Int32Array.from(rows);
  const gates = random(batch * d);
  const recurrence = timeIt(repeat, () => {
    for (let l = 0; l < L; l++) {
      const bound = model.lowerBounds.subarray(l * d, (l + 1) * d);
      if (kernel.gatedRecurrence) {
        kernel.gatedRecurrence(gates, gates, gates, bound, batch, d, stacked, batch, rowSequences, out);
      } else {
        gatedRecurrence(gates, gates, gates, bound, batch, d, states, l * d, rows, out);
      }
    }
  });
  const gateAndValue = random(batch * 2 * I);
  const hidden = new Float32Array(batch * I);
  const glu = timeIt(repeat, () => {
    for (let l = 0; l < L; l++) (kernel.swiGlu ?? swiGlu)(gateAndValue, batch, I, hidden);
  });
  const logits = Float32Array.from({ length: V }, () => Math.random() * 10);
  const sampling = timeIt(repeat, () => {
    for (let b = 0; b < batch; b++) argmax(logits, 0, V);
  });
  const parts = {
    bitlinear_layers_ms: bitlinearLayers,
    lm_head_ms: lmHead,
    layer_norms_ms: layerNorms,
    recurrence_ms: recurrence,
    glu_elementwise_ms: glu,
    sampling_ms: sampling,
  };
  return { ...parts, sum_ms: Object.values(parts).reduce((a, b) => a + b, 0) };
}
