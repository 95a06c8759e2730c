import { existsSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EngineKernel } from "../../src/engine/kernels/kernel.js";
import { createNativeKernel, nativeKernelPaths } from "../../src/engine/kernels/native.js";
import { loadKernel } from "../../src/engine/kernels/select.js";
import { packTernary, paddedColumns } from "../../src/engine/ternary.js";
import {
  expectMatchesReference,
  type Problem,
  randomProblem,
  reference,
} from "../helpers/ternary-problems.js";

/**
 * Every kernel this machine can run must agree with the reference kernel bit for bit, on shapes
 * chosen to miss every tile and block size a fast kernel might assume.
 */

const wasmSource = new URL("../../src/engine/kernels/wasm.ts", import.meta.url);
const requireNative = process.env.TRINE_REQUIRE_NATIVE === "1";

async function kernelsUnderTest(): Promise<EngineKernel[]> {
  const kernels: EngineKernel[] = [];
  // Each dispatch path the CPU supports, forced, plus the default choice.
  for (const path of nativeKernelPaths()) kernels.push(createNativeKernel(path));
  if (requireNative && kernels.length === 0) createNativeKernel();
  if (existsSync(wasmSource)) kernels.push(await loadKernel("wasm"));
  return kernels;
}

const kernels = await kernelsUnderTest();

/** Every weight `weight` and every activation `activation`: the largest sums a kernel must hold. */
function constantProblem(
  rows: number,
  cols: number,
  batch: number,
  weight: number,
  activation: number,
): Problem {
  const paddedCols = paddedColumns(cols);
  const codes = packTernary(new Int8Array(rows * cols).fill(weight), rows, cols);
  const activations = new Int8Array(batch * paddedCols);
  for (let b = 0; b < batch; b++) activations.fill(activation, b * paddedCols, b * paddedCols + cols);
  return { weights: { rows, cols, paddedCols, codes, weightScale: 1 }, activations, batch };
}

/** The same problem with every array a view at an odd offset into a SharedArrayBuffer. */
function sharedAndOffset({ weights, activations, batch }: Problem): Problem & { accumulators: Int32Array } {
  const codesBuffer = new SharedArrayBuffer(weights.codes.length + 13);
  const codes = new Uint8Array(codesBuffer, 13, weights.codes.length);
  codes.set(weights.codes);
  const activationBuffer = new SharedArrayBuffer(activations.length + 7);
  const sharedActivations = new Int8Array(activationBuffer, 7, activations.length);
  sharedActivations.set(activations);
  const accumulators = new Int32Array(
    new SharedArrayBuffer(4 * (batch * weights.rows + 3)),
    12,
    batch * weights.rows,
  );
  return { weights: { ...weights, codes }, activations: sharedActivations, batch, accumulators };
}

const BATCHES = [1, 2, 3, 5, 7, 16, 17];

describe.skipIf(kernels.length === 0)("every fast kernel equals the reference kernel", () => {
  describe.each(kernels.map((kernel) => [kernel.name, kernel] as const))("%s", (_name, kernel) => {
    it("on random shapes: rows 1..40, cols 1..600, every test batch size", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 600 }),
          fc.constantFrom(...BATCHES),
          fc.integer(),
          (rows, cols, batch, seed) => expectMatchesReference(kernel, randomProblem(rows, cols, batch, seed)),
        ),
        { numRuns: 60 },
      );
    });

    it.each([
      [1, 1, 1],
      [1, 600, 17],
      [41, 1, 7],
      [1, 256, 2],
      [5, 512, 16],
      [6, 257, 3],
      [7, 255, 5],
      [63, 65, 17],
      [129, 1000, 2],
    ])("on %i x %i, batch %i", (rows, cols, batch) => {
      expectMatchesReference(kernel, randomProblem(rows, cols, batch, rows * 7919 + cols * 31 + batch));
    });

    // 4100 columns: 33 half blocks per row, past the 16 that an int16 partial sum can absorb.
    it.each([
      [1, -128],
      [1, 127],
      [-1, -128],
      [-1, 127],
    ])("at the extremes: weights all %i, activations all %i", (weight, activation) => {
      expectMatchesReference(kernel, constantProblem(5, 4100, 3, weight, activation));
    });

    it("reads codes and activations from SharedArrayBuffer views at odd offsets", () => {
      for (const batch of [1, 5]) {
        const problem = randomProblem(9, 300, batch, 99 + batch);
        const shared = sharedAndOffset(problem);
        kernel.ternaryMatmul(shared.weights, shared.activations, batch, shared.accumulators);
        expect(Int32Array.from(shared.accumulators)).toEqual(reference(problem));
      }
    });
  });
});
