import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import {
  createNativeKernel,
  NATIVE_PATHS,
  NativeKernelUnavailableError,
  nativeCacheLineOffset,
  nativeKernelPaths,
  nativeStreamRead,
  nativeThreads,
  setNativeThreads,
} from "../../src/engine/kernels/native.js";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import { type PackedTernary, packTernary, paddedColumns } from "../../src/engine/ternary.js";

const paths = nativeKernelPaths();
if (process.env.TRINE_REQUIRE_NATIVE === "1" && paths.length === 0) createNativeKernel();

function problem(rows: number, cols: number, batch: number, seed: number) {
  let state = seed | 1;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    return (state >>> 8) / 16777216;
  };
  const ternary = Int8Array.from({ length: rows * cols }, () => Math.floor(random() * 3) - 1);
  const paddedCols = paddedColumns(cols);
  const weights: PackedTernary = {
    rows,
    cols,
    paddedCols,
    codes: packTernary(ternary, rows, cols),
    weightScale: 1,
  };
  const activations = new Int8Array(batch * paddedCols);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < cols; c++) activations[b * paddedCols + c] = Math.floor(random() * 256) - 128;
  }
  const expected = new Int32Array(batch * rows);
  referenceKernel.ternaryMatmul(weights, activations, batch, expected);
  return { weights, activations, batch, expected };
}

describe.skipIf(paths.length === 0)("native kernel", () => {
  afterEach(() => setNativeThreads(1));

  it("names itself after the fastest path the CPU supports, unless told otherwise", () => {
    expect(createNativeKernel().name).toBe(`native-${paths[0]}`);
    expect(paths).toContain("scalar");
    for (const path of paths) expect(createNativeKernel(path).name).toBe(`native-${path}`);
  });

  it("refuses a path this CPU or build does not have", () => {
    const missing = NATIVE_PATHS.find((path) => !paths.includes(path));
    if (missing) expect(() => createNativeKernel(missing)).toThrow(NativeKernelUnavailableError);
  });

  // Shapes above the single-thread cut-off whose row counts do not split evenly into 4-row tiles;
  // the last is big enough (2 * 10^7 MACs) to be cut into more chunks than threads.
  const threadedProblems = [
    [101, 1500, 1],
    [37, 900, 5],
    [9, 5000, 17],
    [1001, 4000, 5],
  ].map(([rows, cols, batch]) => problem(rows, cols, batch, rows + cols));

  it.each([1, 2, 3])("gives identical results on %i threads", (threads) => {
    setNativeThreads(threads);
    expect(nativeThreads()).toBe(threads);
    for (const path of paths) {
      const kernel = createNativeKernel(path);
      for (const { weights, activations, batch, expected } of threadedProblems) {
        const actual = new Int32Array(batch * weights.rows);
        kernel.ternaryMatmul(weights, activations, batch, actual);
        expect(actual).toEqual(expected);
      }
    }
  });

  it("applies one scale per activation row in the fused variant, rounding like a Float32Array", () => {
    for (const path of paths) {
      const kernel = createNativeKernel(path);
      const { weights, activations, batch, expected } = problem(13, 700, 6, 5);
      const scales = Float32Array.from({ length: batch }, (_, b) => 0.0123 * (b + 1) - 0.031);
      const outputs = new Float32Array(batch * weights.rows);
      kernel.ternaryMatmulScaled(weights, activations, batch, scales, outputs);
      const wanted = new Float32Array(batch * weights.rows);
      for (let i = 0; i < wanted.length; i++) wanted[i] = expected[i] * scales[Math.floor(i / weights.rows)];
      expect(outputs).toEqual(wanted);
    }
  });

  it("rejects arrays that are too short or of the wrong type instead of reading past them", () => {
    const kernel = createNativeKernel();
    const { weights, activations } = problem(4, 300, 2, 1);
    const accumulators = new Int32Array(8);
    expect(() => kernel.ternaryMatmul(weights, activations, 3, accumulators)).toThrow(
      /activations is shorter/,
    );
    expect(() => kernel.ternaryMatmul(weights, activations, 2, new Int32Array(7))).toThrow(/accumulators/);
    const truncated = { ...weights, codes: weights.codes.subarray(1) };
    expect(() => kernel.ternaryMatmul(truncated, activations, 2, accumulators)).toThrow(/codes is shorter/);
    const ragged = { ...weights, paddedCols: 300 };
    expect(() => kernel.ternaryMatmul(ragged, activations, 1, accumulators)).toThrow(/multiple of 256/);
    const unsigned = new Uint8Array(activations.length) as unknown as Int8Array;
    expect(() => kernel.ternaryMatmul(weights, unsigned, 2, accumulators)).toThrow(TypeError);
  });

  it("leaves the accumulators alone for an empty batch", () => {
    const { weights, activations } = problem(4, 10, 1, 3);
    const accumulators = new Int32Array(4).fill(7);
    createNativeKernel().ternaryMatmul(weights, activations, 0, accumulators);
    expect(accumulators).toEqual(new Int32Array(4).fill(7));
  });

  it.each([1, 2])("streams a buffer on %i threads and returns its byte sum", (threads) => {
    setNativeThreads(threads);
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 131) & 255);
    const sum = bytes.reduce((total, byte) => total + byte, 0);
    expect(nativeStreamRead(bytes)).toBe(sum);
    expect(nativeStreamRead(bytes.subarray(5, 70))).toBe(bytes.subarray(5, 70).reduce((t, b) => t + b, 0));
    expect(nativeStreamRead(new Uint8Array(0))).toBe(0);
  });

  it("reports where a view starts within its cache line", () => {
    const bytes = new Uint8Array(new SharedArrayBuffer(1 << 20));
    const base = nativeCacheLineOffset(bytes);
    for (const offset of [1, 16, 63, 64, 1000]) {
      expect(nativeCacheLineOffset(bytes.subarray(offset))).toBe((base + offset) % 64);
    }
  });

  it("runs in worker threads, each with its own thread pool, alongside the main thread", async () => {
    const { weights, activations, batch, expected } = problem(64, 1000, 3, 11);
    // Plain JS so the worker needs no TypeScript loader; it loads the same built addon.
    const source = `
      const { parentPort, workerData } = require("node:worker_threads");
      const { createRequire } = require("node:module");
      const addon = createRequire(workerData.from)(workerData.addon);
      addon.setThreads(2);
      const out = new Int32Array(workerData.batch * workerData.rows);
      for (let i = 0; i < 50; i++) {
        addon.ternaryMatmul(addon.pathIds[workerData.path], workerData.codes, workerData.rows, workerData.paddedCols,
          workerData.activations, workerData.batch, out);
      }
      parentPort.postMessage(out);`;
    const shared = new Uint8Array(new SharedArrayBuffer(weights.codes.length));
    shared.set(weights.codes);
    const workerData = {
      from: import.meta.url,
      addon: new URL("../../native/build/Release/trine_native.node", import.meta.url).pathname,
      path: paths[0],
      codes: shared,
      rows: weights.rows,
      paddedCols: weights.paddedCols,
      activations,
      batch,
    };
    const results = Array.from(
      { length: 2 },
      () =>
        new Promise<Int32Array>((resolve, reject) => {
          const worker = new Worker(source, { eval: true, workerData });
          worker.once("message", (message: Int32Array) => {
            resolve(message);
            void worker.terminate();
          });
          worker.once("error", reject);
        }),
    );
    setNativeThreads(2);
    const mine = new Int32Array(batch * weights.rows);
    createNativeKernel().ternaryMatmul({ ...weights, codes: shared }, activations, batch, mine);
    expect(mine).toEqual(expected);
    for (const result of await Promise.all(results)) expect(result).toEqual(expected);
  });
});
