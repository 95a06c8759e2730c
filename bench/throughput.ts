import { forward } from "../src/engine/forward.js";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import type { Model } from "../src/engine/model.js";
import { prefill } from "../src/engine/prefill.js";
import { createSamplerScratch, createSamplerState, sampleToken } from "../src/engine/sampling/index.js";
import { createState } from "../src/engine/state.js";
import { Workspace } from "../src/engine/workspace.js";

/**
 * End-to-end throughput of the engine on a loaded model: prefill of B prompts, then greedy decode
 * of B sequences together (one forward pass per step, the batched kernel path) with no early
 * stop. Detokenisation and HTTP are not included; sampling (greedy arg-max) is.
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

  const scratch = createSamplerScratch(V);
  const samplers = states.map((_, b) => createSamplerState(prompts[b], 0));
  const greedy = { temperature: 0 };
  let next = lastLogits.map((logits, b) => sampleToken(logits, greedy, samplers[b], scratch).token);
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
    next = next.map(
      (_, b) => sampleToken(logits.subarray(b * V, (b + 1) * V), greedy, samplers[b], scratch).token,
    );
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
