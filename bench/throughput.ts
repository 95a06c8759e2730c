import { forward } from "../src/engine/forward.js";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import type { Model } from "../src/engine/model.js";
import { prefill } from "../src/engine/prefill.js";
import { createState } from "../src/engine/state.js";
import { Workspace } from "../src/engine/workspace.js";

/**
 * End-to-end throughput of the engine on a loaded model: prefill of B prompts, then greedy decode
 * of B sequences together (one forward pass per step, the batched kernel path) with no early
 * stop. Detokenisation and HTTP are not included; greedy sampling (an arg-max over each row of
 * logits, the work a temperature-0 sampler does) is.
 */
export interface ThroughputOptions {
  readonly batch: number;
  readonly promptTokens: number;
  readonly genTokens: number;
  /** Seeds the random prompt ids. */
  readonly seed?: number;
}

export interface ThroughputResult {
  readonly batch: number;
  readonly prompt_tokens: number;
  readonly gen_tokens: number;
  readonly prefill_tokens_per_s: number;
  /** Generated tokens of all sequences together per second. */
  readonly decode_tokens_per_s: number;
  readonly decode_ms_per_step: number;
}

export function measureThroughput(
  model: Model,
  kernel: EngineKernel,
  options: ThroughputOptions,
): ThroughputResult {
  const { batch, promptTokens, genTokens } = options;
  const V = model.config.vocabSize;
  let seed = options.seed ?? 12345;
  const randomToken = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % V;
  };
  const ws = new Workspace();
  const states = Array.from({ length: batch }, () => createState(model.config));
  const prompts = states.map(() => Array.from({ length: promptTokens }, randomToken));

  // Warm-up: the first pass pays for JIT compilation and for growing the workspace.
  const warmState = createState(model.config);
  prefill(model, warmState, prompts[0], kernel, ws);
  forward(
    model,
    states.map(() => createState(model.config)),
    {
      tokens: states.map(() => 1),
      sequenceOfRow: states.map((_, b) => b),
      logitRows: states.map((_, b) => b),
    },
    kernel,
    ws,
  );

  const prefillStart = performance.now();
  const lastLogits = states.map((state, b) => prefill(model, state, prompts[b], kernel, ws));
  const prefillSeconds = (performance.now() - prefillStart) / 1000;

  const next = lastLogits.map((logits) => argmax(logits, 0, V));
  const sequenceOfRow = states.map((_, b) => b);
  const decodeStart = performance.now();
  for (let step = 0; step < genTokens; step++) {
    const logits = forward(
      model,
      states,
      { tokens: next, sequenceOfRow, logitRows: sequenceOfRow },
      kernel,
      ws,
    );
    for (let b = 0; b < batch; b++) next[b] = argmax(logits, b * V, V);
  }
  const decodeSeconds = (performance.now() - decodeStart) / 1000;
  return {
    batch,
    prompt_tokens: promptTokens,
    gen_tokens: genTokens,
    prefill_tokens_per_s: (batch * promptTokens) / prefillSeconds,
    decode_tokens_per_s: (batch * genTokens) / decodeSeconds,
    decode_ms_per_step: (decodeSeconds * 1000) / genTokens,
  };
}

/** The greedy choice: the first index of the largest logit in [offset, offset + length). */
export function argmax(logits: Float32Array, offset: number, length: number): number {
  let best = 0;
  let bestValue = logits[offset];
  for (let k = 1; k < length; k++) {
    if (logits[offset + k] > bestValue) {
      bestValue = logits[offset + k];
      best = k;
    }
  }
  return best;
}
