// Helpers both kernel flavours share. The build and the memory layout: docs/KERNELS-wasm.md.

/** Bytes of packed codes per block (src/engine/ternary.ts: BLOCK_BYTES). */
export const BLOCK_BYTES: usize = 64;
/** Columns per block (src/engine/ternary.ts: BLOCK_COLUMNS). */
export const BLOCK_COLUMNS: usize = 256;
/** Columns of one sub-block: byte i of a block holds columns i + 64 j of sub-blocks j = 0..3. */
export const SUB_BLOCK_COLUMNS: usize = 64;
/** Activation rows the batched path reads per pass over the weights. */
export const TILE_ROWS: i32 = 4;

/** Sum of the four i32 lanes. */
// @ts-ignore: decorator
@inline
export function horizontalSum(v: v128): i32 {
  const pairs = i32x4.add(v, v128.shuffle<i32>(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(pairs, 0) + i32x4.extract_lane(pairs, 1);
}

/**
 * Sum of one activation row. The kernels compute sum(code * x) with codes c = T + 1 in {0, 1, 2}
 * (unsigned, as the multiply instructions want) and subtract this once per output for sum(T * x).
 */
export function activationSum(x: usize, paddedCols: i32): i32 {
  let acc = i32x4.splat(0);
  for (let c = 0; c < paddedCols; c += 16) {
    const v = v128.load(x + <usize>c);
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v)));
  }
  return horizontalSum(acc);
}

/** Writes activationSum of each of `batch` rows to sums[b] (i32). */
export function activationSums(x: usize, paddedCols: i32, batch: i32, sums: usize): void {
  for (let b = 0; b < batch; b++) {
    store<i32>(sums + (<usize>b << 2), activationSum(x + <usize>b * <usize>paddedCols, paddedCols));
  }
}

/** Round up to a multiple of 64 bytes (a cache line) so that workspace regions never share one. */
// @ts-ignore: decorator
@inline
export function lineAligned(bytes: usize): usize {
  return (bytes + 63) & ~(<usize>63);
}
