/**
 * Packed ternary weights: the layout every kernel reads and the packed model file stores.
 *
 * A weight matrix T [rows, cols] with entries in {-1, 0, +1} is stored as 2-bit codes c = T + 1
 * (0, 1, 2). Columns are padded to a multiple of BLOCK_COLUMNS with code 1 (weight 0), so a
 * kernel never needs a ragged tail. Each row is a run of 64-byte blocks covering 256 columns:
 * byte i of a block holds the codes of columns i, i+64, i+128, i+192 in bit pairs 0-1, 2-3, 4-5,
 * 6-7. Why this interleave: one shift-and-mask of a 64-byte (or two 32-byte) vector yields 64
 * consecutive column codes as bytes, which is what `vpdpbusd` and i8x16 dot products consume,
 * with no shuffles. Codes are unsigned so that sum_c code_c * x_c - sum_c x_c = sum_c T_c * x_c:
 * the unsigned-times-signed byte dot product plus one correction by the activation sum.
 */
export const BLOCK_COLUMNS = 256;
export const BLOCK_BYTES = BLOCK_COLUMNS / 4;
const LANE = BLOCK_BYTES;

/** A ternary matrix in the packed layout above, with its per-tensor scale. */
export interface PackedTernary {
  readonly rows: number;
  readonly cols: number;
  /** cols rounded up to a multiple of BLOCK_COLUMNS: the activation stride kernels expect. */
  readonly paddedCols: number;
  /** rows * paddedCols / 4 bytes; may be a view on a SharedArrayBuffer. */
  readonly codes: Uint8Array;
  /** mean|W| of the latent weights (1 / s_w in MODEL.md): real weight = T * weightScale. */
  readonly weightScale: number;
}

export function paddedColumns(cols: number): number {
  return Math.ceil(cols / BLOCK_COLUMNS) * BLOCK_COLUMNS;
}

export function packedByteLength(rows: number, cols: number): number {
  return (rows * paddedColumns(cols)) / 4;
}

/** Packs ternary values (row-major Int8Array of -1/0/+1) into `codes` (zero-filled or fresh). */
export function packTernary(
  ternary: Int8Array,
  rows: number,
  cols: number,
  codes: Uint8Array = new Uint8Array(packedByteLength(rows, cols)),
): Uint8Array {
  const paddedCols = paddedColumns(cols);
  const rowBytes = paddedCols / 4;
  // Code 1 everywhere (0b01010101) makes the padding columns weight 0.
  codes.fill(0x55, 0, rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const t = ternary[r * cols + c];
      if (t === 0) continue;
      const block = Math.floor(c / BLOCK_COLUMNS);
      const within = c % BLOCK_COLUMNS;
      const byteIndex = r * rowBytes + block * BLOCK_BYTES + (within % LANE);
      const shift = 2 * Math.floor(within / LANE);
      codes[byteIndex] = (codes[byteIndex] & ~(3 << shift)) | ((t + 1) << shift);
    }
  }
  return codes;
}

/** Inverse of packTernary: the ternary value of row r, column c. */
export function ternaryAt(w: PackedTernary, r: number, c: number): number {
  const block = Math.floor(c / BLOCK_COLUMNS);
  const within = c % BLOCK_COLUMNS;
  const byte = w.codes[(r * w.paddedCols) / 4 + block * BLOCK_BYTES + (within % LANE)];
  return ((byte >> (2 * Math.floor(within / LANE))) & 3) - 1;
}

/** Unpacks to a row-major Int8Array [rows, cols] of -1/0/+1 (tests and tools, not the hot path). */
export function unpackTernary(w: PackedTernary): Int8Array {
  const out = new Int8Array(w.rows * w.cols);
  for (let r = 0; r < w.rows; r++) {
    for (let c = 0; c < w.cols; c++) out[r * w.cols + c] = ternaryAt(w, r, c);
  }
  return out;
}
