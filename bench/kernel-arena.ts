import { BLOCK_BYTES, type PackedTernary, paddedColumns } from "../src/engine/ternary.js";

/**
 * Weights for the kernel benchmark, rotated over many copies so that every call reads them from
 * DRAM, as a decode step over a real model does. The copies are views into one arena much larger
 * than the last-level cache; by the time a copy comes round again the others have evicted it.
 */

/** xorshift32: the weight contents only have to be valid codes, not reproducible across runs. */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed | 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 255;
  }
  return out;
}

/** An arena of valid packed codes (every bit pair 0, 1 or 2: no code 3). */
export function codeArena(bytes: number): Uint8Array {
  const arena = new Uint8Array(bytes);
  const pattern = randomBytes(1 << 16, 0x7e1ce);
  for (let i = 0; i < pattern.length; i++) {
    let byte = 0;
    for (let pair = 0; pair < 4; pair++) byte |= (((pattern[i] >> (2 * pair)) & 3) % 3) << (2 * pair);
    arena[i] = byte;
  }
  // Tiling one random page is enough: no cache or prefetcher sees content, only addresses.
  for (let filled = Math.min(pattern.length, bytes); filled < bytes; filled *= 2) {
    arena.copyWithin(filled, 0, Math.min(filled, bytes - filled));
  }
  return arena;
}

/** Every whole rows x cols matrix that fits in the arena, each at its own offset. */
export function rotatingWeights(arena: Uint8Array, rows: number, cols: number): PackedTernary[] {
  const paddedCols = paddedColumns(cols);
  const byteLength = (rows * paddedCols) / 4;
  // Rows are whole 64-byte blocks, so consecutive copies stay cache-line aligned.
  const stride = Math.ceil(byteLength / BLOCK_BYTES) * BLOCK_BYTES;
  const copies: PackedTernary[] = [];
  for (let offset = 0; offset + byteLength <= arena.length; offset += stride) {
    copies.push({
      rows,
      cols,
      paddedCols,
      codes: arena.subarray(offset, offset + byteLength),
      weightScale: 1,
    });
  }
  if (copies.length === 0)
    throw new RangeError(`a ${rows}x${cols} matrix does not fit the ${arena.length}-byte arena`);
  return copies;
}

/** Random int8 activations, [batch x paddedCols] with zero padding, kept hot as in a real step. */
export function randomActivations(batch: number, cols: number): Int8Array {
  const paddedCols = paddedColumns(cols);
  const noise = randomBytes(batch * cols, 0x5eed + batch);
  const activations = new Int8Array(batch * paddedCols);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < cols; c++) activations[b * paddedCols + c] = noise[b * cols + c] - 128;
  }
  return activations;
}
