import { availableParallelism, cpus } from "node:os";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import { referenceKernel } from "../src/engine/kernels/reference.js";
import { createWasmKernel } from "../src/engine/kernels/wasm.js";
import { type PackedTernary, packTernary, paddedColumns } from "../src/engine/ternary.js";

/**
 * Single-thread throughput of the WebAssembly kernels against the reference kernel at the
 * MMfreeLM-370M BitLinear shapes, as a markdown table (docs/KERNELS-wasm.md quotes it).
 *
 *   npm run build && npm run bench:kernel-wasm
 *
 * Time is the process's CPU time, not the wall clock: on a machine shared with other work the
 * wall clock also counts the time this thread waits for a core, which here made the figures swing
 * by 2x between runs. On an idle core the two agree. Each figure is the best of REPEATS windows
 * of at least WINDOW_MS after a warm-up (V8 first runs wasm in its baseline compiler and tiers up
 * in the background). MAC = one weight times one activation, rows * cols * batch per call.
 */

/** [rows (outputs), cols (inputs)]: attention projections, the fused GLU up/gate, GLU down, the LM head. */
const SHAPES: readonly (readonly [number, number])[] = [
  [1024, 1024],
  [5632, 1024],
  [1024, 2816],
  [32000, 1024],
];
const BATCHES = [1, 4, 16];
const WARM_UP_MS = 300;
const WINDOW_MS = 100;
const REPEATS = 9;

function randomWeights(rows: number, cols: number): PackedTernary {
  const ternary = new Int8Array(rows * cols);
  for (let i = 0; i < ternary.length; i++) ternary[i] = Math.floor(Math.random() * 3) - 1;
  return {
    rows,
    cols,
    paddedCols: paddedColumns(cols),
    codes: packTernary(ternary, rows, cols),
    weightScale: 1,
  };
}

function randomActivations(w: PackedTernary, batch: number): Int8Array {
  const activations = new Int8Array(batch * w.paddedCols);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < w.cols; c++)
      activations[b * w.paddedCols + c] = Math.floor(Math.random() * 256) - 128;
  }
  return activations;
}

/** CPU milliseconds (user + system) since `since`. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** Calls per CPU second over one window. */
function callsPerSecond(run: () => void): number {
  let calls = 0;
  const start = process.cpuUsage();
  let elapsed = 0;
  do {
    run();
    calls++;
    elapsed = cpuMs(start);
  } while (elapsed < WINDOW_MS);
  return calls / (elapsed / 1000);
}

function warmUp(run: () => void): void {
  const start = process.cpuUsage();
  while (cpuMs(start) < WARM_UP_MS) run();
}

const kernels: EngineKernel[] = [
  referenceKernel,
  await createWasmKernel({ relaxedSimd: false }),
  await createWasmKernel(),
];
const [, simd128, relaxed] = kernels;

console.log(
  `CPU: ${cpus()[0]?.model ?? "unknown"} (${availableParallelism()} threads), Node ${process.version}`,
);
console.log(`kernels: ${kernels.map((k) => k.name).join(", ")}; G MAC per CPU second, one thread\n`);
console.log(`| shape (rows x cols) | batch | reference | ${simd128.name} | ${relaxed.name} |`);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [rows, cols] of SHAPES) {
  const w = randomWeights(rows, cols);
  for (const batch of BATCHES) {
    const activations = randomActivations(w, batch);
    const macs = rows * cols * batch;
    const results = kernels.map(() => new Int32Array(batch * rows));
    const runs = kernels.map((kernel, k) => () => kernel.ternaryMatmul(w, activations, batch, results[k]));
    // The reference is ~100x slower and plain JS (no tiers to wait for): one window is enough.
    const rates = [callsPerSecond(runs[0])];
    for (let k = 1; k < kernels.length; k++) {
      warmUp(runs[k]);
      rates.push(0);
    }
    // Windows alternate between the kernels, so that a burst of other load hits them alike.
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (let k = 1; k < kernels.length; k++) rates[k] = Math.max(rates[k], callsPerSecond(runs[k]));
    }
    for (let k = 0; k < kernels.length; k++) rates[k] = (rates[k] * macs) / 1e9;
    for (let k = 1; k < kernels.length; k++) {
      if (results[k].some((v, i) => v !== results[0][i]))
        throw new Error(`${kernels[k].name} differs from reference`);
    }
    const [ref, ...fast] = rates;
    const cells = fast.map((rate) => `${rate.toFixed(1)} (${(rate / ref).toFixed(0)}x)`);
    console.log(`| ${rows} x ${cols} | ${batch} | ${ref.toFixed(2)} | ${cells.join(" | ")} |`);
  }
}
