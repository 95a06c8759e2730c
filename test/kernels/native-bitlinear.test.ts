import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bitLinear } from "../../src/engine/bit-linear.js";
import { createNativeKernel, nativeKernelPaths } from "../../src/engine/kernels/native.js";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import type { BitLinearWeights } from "../../src/engine/model.js";
import { packTernary, paddedColumns } from "../../src/engine/ternary.js";
import { Workspace } from "../../src/engine/workspace.js";

const paths = nativeKernelPaths();
if (process.env.TRINE_REQUIRE_NATIVE === "1" && paths.length === 0) createNativeKernel();

/**
 * The native fused BitLinear (RMSNorm, int8 quantisation, ternary product, scale in one call)
 * against the JS composition with the reference kernel: equal bit for bit, since a quantiser
 * turns any last-bit difference in the norm into a whole step.
 */
function layer(rows: number, cols: number, seed: number): BitLinearWeights {
  let state = seed | 1;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    return (state >>> 8) / 16777216;
  };
  const ternary = Int8Array.from({ length: rows * cols }, () => Math.floor(random() * 3) - 1);
  return {
    weights: {
      rows,
      cols,
      paddedCols: paddedColumns(cols),
      codes: packTernary(ternary, rows, cols),
      weightScale: Math.fround(0.001 + random() * 0.05),
    },
    normGain: Float32Array.from({ length: cols }, () => 0.5 + random()),
  };
}

describe.skipIf(paths.length === 0)("native fused BitLinear", () => {
  it.each(paths)("equals the JS composition bit for bit on the %s path", (path) => {
    const kernel = createNativeKernel(path);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer(),
        fc.constantFrom("normal", "tiny", "huge", "zeros", "ties"),
        (rows, cols, batch, seed, scaleKind) => {
          const l = layer(rows, cols, seed);
          let state = seed ^ 0x5bd1e995;
          const random = () => {
            state = (Math.imul(state, 48271) + 1) | 0;
            return (state >>> 8) / 16777216 - 0.5;
          };
          const magnitude = { normal: 1, tiny: 1e-8, huge: 1e6, zeros: 0, ties: 1 }[scaleKind];
          const x = Float32Array.from({ length: batch * cols }, () =>
            // "ties": few distinct values, so many products land on the same rounding boundaries.
            scaleKind === "ties" ? Math.round(random() * 8) / 4 : random() * magnitude,
          );
          const expected = new Float32Array(batch * rows);
          bitLinear(l, x, batch, expected, referenceKernel, new Workspace());
          const actual = new Float32Array(batch * rows);
          kernel.bitLinear!(l.weights, l.normGain, x, batch, actual);
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
