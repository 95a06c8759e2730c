import { BLOCK_BYTES, BLOCK_COLUMNS, type PackedTernary } from "../ternary.js";
import type { EngineKernel } from "./kernel.js";

const LANE = BLOCK_BYTES;

/**
 * Plain scalar kernel: decodes each 2-bit code and adds or subtracts the activation. It is the
 * definition the fast kernels are tested against, so it stays obvious rather than fast.
 */
export const referenceKernel: EngineKernel = {
  name: "reference",
  ternaryMatmul(w: PackedTernary, activations: Int8Array, batch: number, accumulators: Int32Array): void {
    const rowBytes = w.paddedCols / 4;
    const blocks = w.paddedCols / BLOCK_COLUMNS;
    for (let b = 0; b < batch; b++) {
      const xBase = b * w.paddedCols;
      for (let r = 0; r < w.rows; r++) {
        let sum = 0;
        for (let block = 0; block < blocks; block++) {
          const codeBase = r * rowBytes + block * BLOCK_BYTES;
          const columnBase = xBase + block * BLOCK_COLUMNS;
          for (let i = 0; i < LANE; i++) {
            const byte = w.codes[codeBase + i];
            for (let j = 0; j < 4; j++) {
              const weight = ((byte >> (2 * j)) & 3) - 1;
              if (weight !== 0) sum += weight * activations[columnBase + j * LANE + i];
            }
          }
        }
        accumulators[b * w.rows + r] = sum;
      }
    }
  },
};
