import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { EngineKernel } from "../../src/engine/kernels/kernel.js";
import { createWasmKernel } from "../../src/engine/kernels/wasm.js";
import { WasmHeap } from "../../src/engine/kernels/wasm-heap.js";
import { packedByteLength, packTernary, paddedColumns } from "../../src/engine/ternary.js";
import { expectMatchesReference, randomProblem, reference, run } from "../helpers/ternary-problems.js";

/**
 * Both WebAssembly kernels, forced one by one, against the reference kernel: bit-identical int32
 * sums on shapes that miss every tile and block size, and the weights read in place from a heap.
 */

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

const BATCHES = [1, 2, 3, 5, 7, 16, 17];

const kernels = new Map<string, EngineKernel>();

beforeAll(async () => {
  // `npm test` builds through `pretest`; this covers `npx vitest` on a clean clone.
  execFileSync(process.execPath, ["wasm/build.mjs", "--if-stale"], { cwd: repoRoot, stdio: "inherit" });
  kernels.set("wasm-simd128", await createWasmKernel({ relaxedSimd: false }));
  kernels.set("wasm-relaxed-simd", await createWasmKernel());
});

describe("createWasmKernel", () => {
  it("names the flavour it built", () => {
    expect(kernels.get("wasm-simd128")?.name).toBe("wasm-simd128");
    // Node 20 on x64 and arm64 passes the relaxed-SIMD start-up check.
    expect(kernels.get("wasm-relaxed-simd")?.name).toBe("wasm-relaxed-simd");
  });
});

describe.each(["wasm-simd128", "wasm-relaxed-simd"])("%s equals the reference kernel", (name) => {
  const kernel = () => kernels.get(name)!;

  it("on random shapes: rows 1..40, cols 1..600, every test batch size", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 600 }),
        fc.constantFrom(...BATCHES),
        fc.integer(),
        (rows, cols, batch, seed) => expectMatchesReference(kernel(), randomProblem(rows, cols, batch, seed)),
      ),
      { numRuns: 80 },
    );
  });

  it.each([
    [1, 1],
    [1, 600],
    [41, 1],
    [2, 256],
    [3, 257],
    [16, 255],
    [17, 64],
    [63, 65],
    [64, 511],
    [5, 4300],
  ])("on %i x %i at every test batch size", (rows, cols) => {
    for (const batch of BATCHES) {
      expectMatchesReference(kernel(), randomProblem(rows, cols, batch, rows * 7919 + cols * 31 + batch));
    }
  });

  // 4300 columns is 17 blocks: past the i16 partial sums of a block in the relaxed path, and
  // sums of magnitude 128 * 4300 in both.
  it.each([
    [1, -128],
    [1, 127],
    [-1, -128],
    [-1, 127],
  ])("at the extremes: weights all %i, activations all %i", (weight, activation) => {
    const rows = 3;
    const cols = 4300;
    const paddedCols = paddedColumns(cols);
    for (const batch of [1, 5]) {
      const activations = new Int8Array(batch * paddedCols);
      for (let b = 0; b < batch; b++) activations.fill(activation, b * paddedCols, b * paddedCols + cols);
      const codes = packTernary(new Int8Array(rows * cols).fill(weight), rows, cols);
      const problem = { weights: { rows, cols, paddedCols, codes, weightScale: 1 }, activations, batch };
      expect(run(kernel(), problem)).toEqual(new Int32Array(batch * rows).fill(weight * activation * cols));
    }
  });

  it("reads codes from a SharedArrayBuffer at a nonzero offset, and activations at an odd one", () => {
    for (const batch of [1, 7]) {
      const rows = 9;
      const cols = 300;
      const codes = new Uint8Array(new SharedArrayBuffer(packedByteLength(rows, cols) + 13), 13);
      const problem = randomProblem(rows, cols, batch, 99 + batch, codes);
      const activations = new Int8Array(new SharedArrayBuffer(problem.activations.length + 7), 7);
      activations.set(problem.activations);
      expect(run(kernel(), { ...problem, activations })).toEqual(reference(problem));
    }
  });

  it("leaves longer activation and accumulator arrays alone past batch rows", () => {
    const problem = randomProblem(7, 100, 3, 5);
    const activations = new Int8Array(problem.activations.length + 512).fill(9);
    activations.set(problem.activations);
    const accumulators = new Int32Array(7 * 3 + 4).fill(-1);
    kernel().ternaryMatmul(problem.weights, activations, 3, accumulators);
    expect(accumulators.subarray(0, 21)).toEqual(reference(problem));
    expect(Array.from(accumulators.subarray(21))).toEqual([-1, -1, -1, -1]);
  });

  it("does nothing for batch 0 and rejects arrays too short for the shape", () => {
    const problem = randomProblem(4, 300, 2, 3);
    kernel().ternaryMatmul(problem.weights, problem.activations, 0, new Int32Array(0));
    expect(() => kernel().ternaryMatmul(problem.weights, problem.activations, 3, new Int32Array(12))).toThrow(
      RangeError,
    );
    expect(() => kernel().ternaryMatmul(problem.weights, problem.activations, 2, new Int32Array(7))).toThrow(
      RangeError,
    );
  });
});

describe("weights and the wasm heap", () => {
  it("copies weights from outside the heap once, then reuses the copy", async () => {
    const heap = WasmHeap.create();
    const kernel = await createWasmKernel({ heap });
    const problem = randomProblem(300, 1000, 1, 11);
    expectMatchesReference(kernel, problem);
    const afterFirst = heap.allocate(0);
    // A fresh PackedTernary over the same bytes is the same weights.
    expectMatchesReference(kernel, { ...problem, weights: { ...problem.weights } });
    expect(heap.allocate(0)).toBe(afterFirst);
  });

  it("reads weights allocated in its heap in place", async () => {
    const heap = WasmHeap.create();
    const kernel = await createWasmKernel({ heap });
    const rows = 400;
    const cols = 700;
    const codes = heap.allocateBytes(packedByteLength(rows, cols));
    const problem = randomProblem(rows, cols, 5, 21, codes);
    expect(heap.contains(codes)).toBe(true);
    const before = heap.allocate(0);
    expectMatchesReference(kernel, problem);
    // Only scratch was allocated (about 20 KB), not a copy of the 77 KB of weights.
    expect(heap.allocate(0) - before).toBeLessThan(packedByteLength(rows, cols));
  });

  it("shares one heap between threads: a worker's view of it is read in place", async () => {
    const heap = WasmHeap.create();
    const rows = 400;
    const cols = 300;
    const codes = heap.allocateBytes(packedByteLength(rows, cols));
    const problem = randomProblem(rows, cols, 2, 31, codes);
    // The worker attaches to the memory and sends back its own view of the codes, which arrives
    // on a SharedArrayBuffer object that is not this thread's heap.buffer.
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       const { memory, address, length } = workerData;
       parentPort.postMessage(new Uint8Array(memory.buffer, address, length));`,
      { eval: true, workerData: { memory: heap.memory, address: codes.byteOffset, length: codes.length } },
    );
    const received = await new Promise<Uint8Array>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    expect(received.buffer).not.toBe(heap.buffer);
    expect(heap.contains(received)).toBe(true);
    const kernel = await createWasmKernel({ heap });
    const before = heap.allocate(0);
    expectMatchesReference(kernel, { ...problem, weights: { ...problem.weights, codes: received } });
    expect(heap.allocate(0) - before).toBeLessThan(codes.length);
  });
});
