import fc from "fast-check";
import { describe, expect, it, onTestFinished } from "vitest";
import type { ModelConfig } from "../../src/engine/config.js";
import { forward } from "../../src/engine/forward.js";
import type { EngineKernel } from "../../src/engine/kernels/kernel.js";
import { createNativeKernel, nativeKernelPaths, setNativeThreads } from "../../src/engine/kernels/native.js";
import { deriveLowerBounds } from "../../src/engine/lower-bounds.js";
import type { BitLinearWeights, LayerWeights, Model } from "../../src/engine/model.js";
import { createState, type RecurrentState } from "../../src/engine/state.js";
import { packTernary, paddedColumns } from "../../src/engine/ternary.js";
import { Workspace } from "../../src/engine/workspace.js";

const paths = nativeKernelPaths();
if (process.env.TRINE_REQUIRE_NATIVE === "1" && paths.length === 0) createNativeKernel();

function generator(seed: number): () => number {
  let state = seed | 1;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    return (state >>> 8) / 16777216;
  };
}

/** A random model of awkward shapes (nothing a multiple of 16 unless asked). */
function randomModel(
  d: number,
  I: number,
  V: number,
  L: number,
  useLowerBound: boolean,
  seed: number,
): Model {
  const random = generator(seed);
  const floats = (n: number, base: number, spread: number) =>
    Float32Array.from({ length: n }, () => base + (random() - 0.5) * spread);
  const linear = (rows: number, cols: number): BitLinearWeights => ({
    weights: {
      rows,
      cols,
      paddedCols: paddedColumns(cols),
      codes: packTernary(
        Int8Array.from({ length: rows * cols }, () => Math.floor(random() * 3) - 1),
        rows,
        cols,
      ),
      weightScale: Math.fround(0.005 + random() * 0.05),
    },
    normGain: floats(cols, 1, 0.4),
  });
  const config: ModelConfig = {
    vocabSize: V,
    hiddenSize: d,
    numLayers: L,
    intermediateSize: I,
    rmsNormEps: 1e-6,
    useLowerBound,
    tieWordEmbeddings: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  };
  const layers: LayerWeights[] = Array.from({ length: L }, () => ({
    attnNorm: floats(d, 1, 0.4),
    iProj: linear(d, d),
    fProj: linear(d, d),
    gProj: linear(d, d),
    gNorm: floats(d, 1, 0.4),
    oProj: linear(d, d),
    mlpNorm: floats(d, 1, 0.4),
    gateProj: linear(2 * I, d),
    downProj: linear(d, I),
  }));
  const lowerBoundLogits = floats(L * d, 0, 4);
  return {
    config,
    embedding: { dtype: "F32", values: floats(V * d, 0, 2) },
    lowerBoundLogits,
    lowerBounds: deriveLowerBounds(config, lowerBoundLogits),
    layers,
    finalNorm: floats(d, 1, 0.4),
    lmHead: linear(V, d),
  };
}

/** The same kernel without its one-call forward: forward() then runs its own JS loop of steps. */
function stepByStep(kernel: EngineKernel): EngineKernel {
  return { ...kernel, forwardLayers: undefined };
}

/**
 * The native one-call forward against forward()'s JS composition of the same kernel's steps, on
 * random models and token batches of ragged sizes (prefill chunks, batched decode, mixed): logits
 * and states equal bit for bit, call after call.
 */
describe.skipIf(paths.length === 0)("native one-call forward", () => {
  // Two threads split the products and, for batches, the elementwise steps (by rows, and the
  // recurrence by channel slices), which must not change a bit either.
  const cases = [...paths.map((path) => [path, 1] as const), [paths[0], 2] as const];
  it.each(cases)(
    "equals the step-by-step forward bit for bit on the %s path, %i thread(s)",
    (path, threads) => {
      const kernel = createNativeKernel(path);
      setNativeThreads(threads);
      onTestFinished(() => setNativeThreads(1));
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 300 }),
          fc.integer({ min: 1, max: 400 }),
          fc.integer({ min: 1, max: 90 }),
          fc.integer({ min: 1, max: 3 }),
          fc.boolean(),
          fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 }),
          fc.integer(),
          (d, I, V, L, useLowerBound, rowsPerSequence, seed) => {
            const model = randomModel(d, I, V, L, useLowerBound, seed);
            const random = generator(seed ^ 0x5bd1e995);
            const tokens: number[] = [];
            const sequenceOfRow: number[] = [];
            rowsPerSequence.forEach((n, s) => {
              for (let k = 0; k < n; k++) {
                tokens.push(Math.floor(random() * V));
                sequenceOfRow.push(s);
              }
            });
            // Every sequence's last row, plus row 0 when it is not one of them.
            const logitRows = [
              ...new Set([0, ...rowsPerSequence.map((_, s) => sequenceOfRow.lastIndexOf(s))]),
            ].sort((a, b) => a - b);
            const batch = { tokens, sequenceOfRow, logitRows };
            const states = () => rowsPerSequence.map(() => createState(model.config));
            const run = (k: EngineKernel, s: RecurrentState[], ws: Workspace) => [
              forward(model, s, batch, k, ws).slice(),
              forward(model, s, batch, k, ws).slice(),
            ];
            const expectedStates = states();
            const expected = run(stepByStep(kernel), expectedStates, new Workspace());
            const actualStates = states();
            const actual = run(kernel, actualStates, new Workspace());
            expect(actual).toEqual(expected);
            expect(actualStates).toEqual(expectedStates);
          },
        ),
        { numRuns: 25 },
      );
    },
  );
});
