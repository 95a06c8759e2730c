/**
 * Ternary kernel benchmark: every kernel at the BitLinear shapes of MMfreeLM, weights from DRAM,
 * against the memory-bandwidth roofline measured in the same run.
 *
 *   npm run bench:kernel                 # all three models, B = 1, 4, 16, 64, 1 and 2 threads
 *   npm run bench:kernel -- --quick      # 370M only, B = 1 and 16, fewer repetitions
 *   npm run bench:kernel -- --models=2.7B --batches=1 --threads=1,2 --kernels=native
 *
 * G MAC/s counts ternary multiply-adds (rows * cols * B per call). The roofline is the time one
 * streaming pass over the same packed weights takes (nativeStreamRead over the same rotation, on
 * the same number of threads): a B = 1 kernel cannot beat it, since it must read every weight once.
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import {
  createNativeKernel,
  nativeCacheLineOffset,
  nativeKernelPaths,
  nativeStreamRead,
  nativeUnavailableReason,
  setNativeThreads,
} from "../src/engine/kernels/native.js";
import { referenceKernel } from "../src/engine/kernels/reference.js";
import { codeArena, randomActivations, rotatingWeights } from "./kernel-arena.js";
import { secondsPerCall, type TimingOptions } from "./kernel-timing.js";

const VOCABULARY = 32000;

/** MMfreeLM sizes (hidden d, GLU intermediate I) and their BitLinear shapes as rows x cols. */
const MODELS: Record<string, { d: number; i: number }> = {
  "370M": { d: 1024, i: 2816 },
  "1.3B": { d: 2048, i: 5632 },
  "2.7B": { d: 2560, i: 6912 },
};

function modelShapes(d: number, i: number) {
  return [
    { name: "d x d", rows: d, cols: d },
    { name: "2I x d", rows: 2 * i, cols: d },
    { name: "d x I", rows: d, cols: i },
    { name: "V x d", rows: VOCABULARY, cols: d },
  ];
}

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    models: { type: "string" },
    batches: { type: "string" },
    threads: { type: "string" },
    kernels: { type: "string" },
    reps: { type: "string" },
    "min-rep-ms": { type: "string" },
    "arena-mib": { type: "string" },
  },
});

const list = (value: string | undefined, fallback: string) =>
  (value ?? fallback).split(",").map((s) => s.trim());
const quick = flags.quick ?? false;
const models = list(flags.models, quick ? "370M" : "370M,1.3B,2.7B");
const batches = list(flags.batches, quick ? "1,16" : "1,4,16,64").map(Number);
const threadCounts = list(flags.threads, "1,2").map(Number);
const kernelFilter = flags.kernels ? list(flags.kernels, "") : undefined;
const timing: TimingOptions = {
  reps: Number(flags.reps ?? (quick ? 3 : 7)),
  minRepMs: Number(flags["min-rep-ms"] ?? (quick ? 10 : 25)),
};
// 256 MiB: 8x the 32 MiB L3 slice this machine's two cores see (read bandwidth flattens to its
// DRAM value from 128 MiB up), so rotated weights always come from DRAM.
const arenaBytes = Number(flags["arena-mib"] ?? 256) * 2 ** 20;

for (const model of models) if (!MODELS[model]) throw new Error(`unknown model ${model}`);

interface Candidate {
  kernel: EngineKernel;
  /** Thread counts it runs with: native kernels split rows, the others run on the calling thread. */
  threads: number[];
  /** Limits for slow kernels so that the default run stays short. */
  models: string[];
  batches: number[];
}

/**
 * The arena lives in a WebAssembly heap when the WASM kernel is built, so that kernel reads the
 * same weights in place (as with a model loaded into its heap) instead of copying each one.
 */
async function arenaAndWasm(): Promise<{ arena: Uint8Array; wasm?: EngineKernel; wasmNote?: string }> {
  try {
    const { WasmHeap } = await import("../src/engine/kernels/wasm-heap.js");
    const { createWasmKernel } = await import("../src/engine/kernels/wasm.js");
    const heap = WasmHeap.create(arenaBytes);
    const arena = heap.allocateBytes(arenaBytes);
    arena.set(codeArena(Math.min(arenaBytes, 1 << 20)));
    for (let filled = 1 << 20; filled < arenaBytes; filled *= 2) {
      arena.copyWithin(filled, 0, Math.min(filled, arenaBytes - filled));
    }
    return { arena, wasm: await createWasmKernel({ heap }) };
  } catch (error) {
    // Aligned as a careful loader would place weights (see nativeCacheLineOffset).
    const spare = codeArena(arenaBytes + 64);
    const skip = (64 - nativeCacheLineOffset(spare)) % 64;
    return { arena: spare.subarray(skip, skip + arenaBytes), wasmNote: (error as Error).message };
  }
}

const { arena, wasm, wasmNote } = await arenaAndWasm();

function candidates(): Candidate[] {
  const all: Candidate[] = [];
  const paths = nativeKernelPaths();
  for (const [index, path] of paths.entries()) {
    const kernel = createNativeKernel(path);
    if (path === "scalar") {
      all.push({
        kernel,
        threads: [1],
        models: ["370M"],
        batches: batches.filter((b) => b === 1 || b === 16),
      });
    } else {
      // The dispatched (fastest) path on every thread count; slower vector paths on one thread.
      all.push({ kernel, threads: index === 0 ? threadCounts : [1], models, batches });
    }
  }
  if (wasm) all.push({ kernel: wasm, threads: [1], models, batches });
  return all.filter((c) => !kernelFilter || kernelFilter.some((f) => c.kernel.name.includes(f)));
}

const kernels = candidates();
const primary = kernels[0]?.kernel.name;

function format(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "-";
}

console.log(`trine kernel benchmark (${new Date().toISOString()})`);
console.log(`${cpus()[0]?.model ?? "unknown CPU"} x ${cpus().length}, node ${process.version}`);
console.log(
  `arena ${arenaBytes / 2 ** 20} MiB, ${timing.reps} reps, median; load average ${loadavg()[0].toFixed(2)}`,
);
if (nativeUnavailableReason()) console.log(`native: ${nativeUnavailableReason()}`);
if (wasmNote) console.log(`wasm: not measured (${wasmNote})`);
console.log(`kernels: ${kernels.map((c) => c.kernel.name).join(", ")}`);

// The reference kernel is far too slow for the real shapes: one small shape gives its rate.
const referenceShape = { rows: 1024, cols: 1024 };
const referenceWeights = rotatingWeights(arena, referenceShape.rows, referenceShape.cols);
const referenceActivations = randomActivations(1, referenceShape.cols);
const referenceOut = new Int32Array(referenceShape.rows);
const referenceSeconds = secondsPerCall(
  (copy) => referenceKernel.ternaryMatmul(referenceWeights[copy], referenceActivations, 1, referenceOut),
  referenceWeights.length,
  { reps: 3, minRepMs: timing.minRepMs },
);
const referenceGmacs = (referenceShape.rows * referenceShape.cols) / referenceSeconds / 1e9;
console.log(`reference: ${format(referenceGmacs, 3)} G MAC/s at 1024 x 1024, B = 1 (1 thread)\n`);

interface Row {
  model: string;
  shape: string;
  kernel: string;
  threads: number;
  batch: number;
  seconds: number;
  gmacs: number;
  weightGBs: number;
  roofline: number;
}

const rows: Row[] = [];
const roofline: { model: string; shape: string; mib: number; gbs: Record<number, number> }[] = [];
const header = [
  "model".padEnd(6),
  "shape".padEnd(7),
  "rows x cols".padStart(12),
  "kernel".padEnd(22),
  "T".padStart(2),
  "B".padStart(3),
  "us/call".padStart(10),
  "G MAC/s".padStart(9),
  "wGB/s".padStart(7),
  "roof".padStart(6),
  "x ref".padStart(7),
  "x B=1".padStart(6),
  "x 1T".padStart(5),
].join(" ");
console.log(header);
console.log("-".repeat(header.length));

for (const model of models) {
  const { d, i } = MODELS[model];
  for (const shape of modelShapes(d, i)) {
    const copies = rotatingWeights(arena, shape.rows, shape.cols);
    const weightBytes = (shape.rows * copies[0].paddedCols) / 4;
    const macs = shape.rows * shape.cols;
    const rooflineSeconds: Record<number, number> = {};
    for (const threads of threadCounts) {
      setNativeThreads(threads);
      rooflineSeconds[threads] = secondsPerCall(
        (c) => nativeStreamRead(copies[c].codes),
        copies.length,
        timing,
      );
    }
    roofline.push({
      model,
      shape: shape.name,
      mib: weightBytes / 2 ** 20,
      gbs: Object.fromEntries(threadCounts.map((t) => [t, weightBytes / rooflineSeconds[t] / 1e9])),
    });
    for (const candidate of kernels) {
      if (!candidate.models.includes(model)) continue;
      for (const threads of candidate.threads) {
        setNativeThreads(threads);
        for (const batch of candidate.batches) {
          const activations = randomActivations(batch, shape.cols);
          const out = new Int32Array(batch * shape.rows);
          const seconds = secondsPerCall(
            (c) => candidate.kernel.ternaryMatmul(copies[c], activations, batch, out),
            copies.length,
            timing,
          );
          const row: Row = {
            model,
            shape: shape.name,
            kernel: candidate.kernel.name,
            threads,
            batch,
            seconds,
            gmacs: (macs * batch) / seconds / 1e9,
            weightGBs: weightBytes / seconds / 1e9,
            roofline: rooflineSeconds[threads] / seconds,
          };
          rows.push(row);
          const same = (r: Row) => r.model === model && r.shape === shape.name && r.kernel === row.kernel;
          const batchOne = rows.find((r) => same(r) && r.threads === threads && r.batch === 1);
          const oneThread = rows.find((r) => same(r) && r.threads === 1 && r.batch === batch);
          console.log(
            [
              model.padEnd(6),
              shape.name.padEnd(7),
              `${shape.rows} x ${shape.cols}`.padStart(12),
              row.kernel.padEnd(22),
              String(threads).padStart(2),
              String(batch).padStart(3),
              format(seconds * 1e6, 1).padStart(10),
              format(row.gmacs, 1).padStart(9),
              format(row.weightGBs, 1).padStart(7),
              `${format(100 * row.roofline, 0)}%`.padStart(6),
              format(row.gmacs / referenceGmacs, 0).padStart(7),
              format(batchOne ? row.gmacs / batchOne.gmacs : Number.NaN, 2).padStart(6),
              format(oneThread && threads > 1 ? row.gmacs / oneThread.gmacs : Number.NaN, 2).padStart(5),
            ].join(" "),
          );
        }
      }
    }
  }
}
setNativeThreads(1);

console.log("\nroofline: one streaming read of the packed weights (nativeStreamRead), GB/s");
for (const r of roofline) {
  const bandwidth = threadCounts.map((t) => `${t}T ${format(r.gbs[t], 1)}`).join("  ");
  console.log(
    `  ${r.model.padEnd(6)} ${r.shape.padEnd(7)} ${format(r.mib, 2).padStart(7)} MiB  ${bandwidth}`,
  );
}

/** min / median / max of a figure over the model shapes, for the primary (dispatched) kernel. */
function spread(values: number[]): string {
  if (values.length === 0) return "not measured";
  const sorted = [...values].sort((a, b) => a - b);
  const pick = (q: number) => format(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))], 2);
  return `min ${pick(0)}  median ${pick(0.5)}  max ${pick(1)}  (${values.length} shapes)`;
}

const primaryRows = rows.filter((r) => r.kernel === primary);
const at = (threads: number, batch: number) =>
  primaryRows.filter((r) => r.threads === threads && r.batch === batch);
const pair = (a: Row[], b: Row[], f: (x: Row, y: Row) => number) =>
  a.flatMap((x) => {
    const y = b.find((r) => r.model === x.model && r.shape === x.shape);
    return y ? [f(x, y)] : [];
  });
// Other processes on the machine take cores and bandwidth: the two-thread figures need both idle.
console.log(`\nload average at the end: ${loadavg()[0].toFixed(2)}`);
console.log(`targets, ${primary}:`);
console.log(`  B=1, 1 thread, fraction of roofline (>= 0.75): ${spread(at(1, 1).map((r) => r.roofline))}`);
console.log(
  `  B=1, 2 threads / 1 thread (>= 1.6): ${spread(pair(at(2, 1), at(1, 1), (x, y) => x.gmacs / y.gmacs))}`,
);
console.log(
  `  B=16 / B=1, 1 thread (>= 6): ${spread(pair(at(1, 16), at(1, 1), (x, y) => x.gmacs / y.gmacs))}`,
);
console.log(
  `  B=16 / B=1, 2 threads (>= 6): ${spread(pair(at(2, 16), at(2, 1), (x, y) => x.gmacs / y.gmacs))}`,
);
