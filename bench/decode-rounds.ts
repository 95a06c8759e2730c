import { forward } from "../src/engine/forward.js";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import type { Model } from "../src/engine/model.js";
import { prefill } from "../src/engine/prefill.js";
import { createState } from "../src/engine/state.js";
import { Workspace } from "../src/engine/workspace.js";
import { argmax } from "./throughput.js";

/**
 * The engine functions a measurement drives: this checkout's by default, or those of another
 * checkout (`npm run bench -- --baseline=DIR`), so that the same run measures before and after.
 */
export interface Engine {
  readonly forward: typeof forward;
  readonly prefill: typeof prefill;
  readonly createState: typeof createState;
  readonly Workspace: typeof Workspace;
}

export const currentEngine: Engine = { forward, prefill, createState, Workspace };

/**
 * Seconds of wall clock and of this process's CPU time. On a machine whose cores are shared with
 * other work, the wall clock also counts the time the OS gave our thread's core to someone else;
 * CPU time does not (it still counts time stalled on memory bandwidth that others take). With one
 * kernel thread the process's CPU time is that thread's, give or take V8's helper threads.
 */
export interface Elapsed {
  readonly wall: number;
  readonly cpu: number;
}

export function startTimer(): () => Elapsed {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6 };
  };
}

/**
 * The two measurements the end-to-end benchmark interleaves, each on its own so that a round can
 * alternate engines and batch sizes: `decodeSeconds` times greedy decode steps of `batch`
 * sequences (states warmed by two steps first; their values do not change the work), and
 * `prefillSeconds` times one prompt fed through prefill() in its chunks.
 */
export function decodeSeconds(
  engine: Engine,
  model: Model,
  kernel: EngineKernel,
  batch: number,
  steps: number,
): Elapsed {
  const V = model.config.vocabSize;
  const ws = new engine.Workspace();
  const states = Array.from({ length: batch }, () => engine.createState(model.config));
  const rows = Array.from({ length: batch }, (_, b) => b);
  const next = rows.map((b) => (b * 7919 + 1) % V);
  const step = () => {
    const logits = engine.forward(
      model,
      states,
      { tokens: next, sequenceOfRow: rows, logitRows: rows },
      kernel,
      ws,
    );
    for (let b = 0; b < batch; b++) next[b] = argmax(logits, b * V, V);
  };
  for (let k = 0; k < 2; k++) step();
  const elapsed = startTimer();
  for (let k = 0; k < steps; k++) step();
  return elapsed();
}

export function prefillSeconds(
  engine: Engine,
  model: Model,
  kernel: EngineKernel,
  promptTokens: number,
): Elapsed {
  const V = model.config.vocabSize;
  const prompt = Array.from({ length: promptTokens }, (_, k) => (k * 7919 + 3) % V);
  const ws = new engine.Workspace();
  engine.prefill(model, engine.createState(model.config), prompt.slice(0, 8), kernel, ws);
  const elapsed = startTimer();
  engine.prefill(model, engine.createState(model.config), prompt, kernel, ws);
  return elapsed();
}
