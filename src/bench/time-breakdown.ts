import { BITLINEAR_NORM_EPS } from "../engine/config.js";
import { swiGlu } from "../engine/glu.js";
import type { TernaryKernel } from "../engine/kernels/kernel.js";
import { gatedRecurrence } from "../engine/mlgru.js";
import type { BitLinearWeights, Model } from "../engine/model.js";
import { quantizeActivations } from "../engine/quantize.js";
import { rmsnorm } from "../engine/rmsnorm.js";
import { createSamplerScratch, createSamplerState, sampleToken } from "../engine/sampling/index.js";

/**
 * Time per decode step split by part, measured by running each part of the forward pass on its
 * own at the model's shapes and batch size, with the same functions the forward pass calls. The
 * parts' sum is checked against the measured whole step, so a missing part shows.
 */
export interface TimeBreakdown {
  /** Milliseconds per decode step (all B sequences), by part. */
  readonly kernels_ms: number;
  readonly lm_head_kernel_ms: number;
  readonly norms_and_quantisation_ms: number;
  readonly recurrence_and_glu_ms: number;
  readonly output_scaling_ms: number;
  readonly sampling_ms: number;
  readonly sum_ms: number;
}

function timeIt(repeat: number, body: () => void): number {
  body();
  const start = performance.now();
  for (let k = 0; k < repeat; k++) body();
  return (performance.now() - start) / repeat;
}

export function measureTimeBreakdown(
  model: Model,
  kernel: TernaryKernel,
  batch: number,
  repeat = 5,
): TimeBreakdown {
  const { hiddenSize: d, vocabSize: V, intermediateSize: I } = model.config;
  const maxIn = Math.max(d, I);
  const normalized = new Float32Array(batch * maxIn).map(() => Math.random() - 0.5);
  const normed = new Float32Array(batch * maxIn);
  const activations = new Int8Array(batch * (Math.ceil(maxIn / 256) * 256)).map(
    () => (Math.random() * 255 - 128) | 0,
  );
  const accumulators = new Int32Array(batch * Math.max(V, 2 * I));
  const outputs = new Float32Array(batch * Math.max(V, 2 * I));

  const linears: BitLinearWeights[] = model.layers.flatMap((l) => [
    l.iProj,
    l.fProj,
    l.gProj,
    l.oProj,
    l.gateProj,
    l.downProj,
  ]);
  const kernels = timeIt(repeat, () => {
    for (const l of linears) kernel.ternaryMatmul(l.weights, activations, batch, accumulators);
  });
  const lmHead = timeIt(repeat, () =>
    kernel.ternaryMatmul(model.lmHead.weights, activations, batch, accumulators),
  );
  const quantise = (l: BitLinearWeights) => {
    rmsnorm(normalized, l.normGain, BITLINEAR_NORM_EPS, batch, l.weights.cols, normed);
    for (let r = 0; r < batch; r++) {
      quantizeActivations(normed, r * l.weights.cols, l.weights.cols, activations, r * l.weights.paddedCols);
    }
  };
  const norms = timeIt(repeat, () => {
    for (const layer of model.layers) {
      rmsnorm(normalized, layer.attnNorm, model.config.rmsNormEps, batch, d, normed);
      rmsnorm(normalized, layer.gNorm, model.config.rmsNormEps, batch, d, normed);
      rmsnorm(normalized, layer.mlpNorm, model.config.rmsNormEps, batch, d, normed);
      for (const l of [layer.iProj, layer.fProj, layer.gProj, layer.oProj, layer.gateProj, layer.downProj])
        quantise(l);
    }
    rmsnorm(normalized, model.finalNorm, model.config.rmsNormEps, batch, d, normed);
    quantise(model.lmHead);
  });
  const states = Array.from({ length: batch }, () => new Float32Array(model.config.numLayers * d));
  const rows = states.map((_, b) => b);
  const gateAndValue = new Float32Array(batch * 2 * I).map(() => Math.random() - 0.5);
  const hidden = new Float32Array(batch * I);
  const elementwise = timeIt(repeat, () => {
    model.layers.forEach((_, l) => {
      gatedRecurrence(
        normalized,
        normalized,
        normalized,
        model.lowerBounds.subarray(l * d, (l + 1) * d),
        batch,
        d,
        states,
        l * d,
        rows,
        normed,
      );
      swiGlu(gateAndValue, batch, I, hidden);
    });
  });
  const scaling = timeIt(repeat, () => {
    for (const l of [...linears, model.lmHead]) {
      for (let k = 0; k < batch * l.weights.rows; k++) outputs[k] = accumulators[k] * 0.001;
    }
  });
  const logits = new Float32Array(V).map(() => Math.random() * 10);
  const scratch = createSamplerScratch(V);
  const sampler = createSamplerState([], 0);
  const sampling = timeIt(repeat, () => {
    for (let b = 0; b < batch; b++) sampleToken(logits, { temperature: 0 }, sampler, scratch);
  });
  const parts = {
    kernels_ms: kernels,
    lm_head_kernel_ms: lmHead,
    norms_and_quantisation_ms: norms,
    recurrence_and_glu_ms: elementwise,
    output_scaling_ms: scaling,
    sampling_ms: sampling,
  };
  return { ...parts, sum_ms: Object.values(parts).reduce((a, b) => a + b, 0) };
}
