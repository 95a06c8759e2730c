// The ternary matmul with relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s (pmaddubsw on x64):
// sixteen byte products per instruction, twice as many as i32x4.dot_i16x8_s.
// Needs V8's --experimental-wasm-relaxed-simd on Node 20; src/engine/kernels/wasm-module.ts sets
// it and the kernel only serves after a self-test against the reference.
// Contract: src/engine/kernels/kernel.ts; layout: src/engine/ternary.ts; docs/KERNELS-wasm.md.
//
// Why the result is deterministic although the instruction is "relaxed": its second operand is
// the code c in {0, 1, 2}, inside the i7 range every implementation agrees on, and a pair sum is
// at most 2 * 2 * 128 = 512, far from the i16 saturation some implementations apply.
// i32x4.relaxed_dot_i8x16_i7x16_add_s is not used: V8 11.3 returns twice the dot product there
// and ignores the accumulator. Instead i16 partial sums are widened once per block: a block adds
// at most 16 dots * 512 = 8192 to an i16 lane.
//
// The loop shapes follow the same V8 habits as ternary-simd128.ts (loads hoisted to the top of a
// body, constants rematerialised per use), and every shift count is an immediate: a variable
// i16x8.shr_u costs V8 three more instructions per use (measured 18% slower on the tile path).

import {
  activationSums,
  BLOCK_BYTES,
  BLOCK_COLUMNS,
  horizontalSum,
  lineAligned,
  SUB_BLOCK_COLUMNS,
  TILE_ROWS,
} from "./common";

const MASK_BYTES: usize = 64;
const TILE_SUM_BYTES: usize = 16 * <usize>TILE_ROWS;

/** Workspace: the code mask, the activation sums, and a tile's i32 partial sums. */
export function workspaceBytes(batch: i32, paddedCols: i32): usize {
  return MASK_BYTES + lineAligned(<usize>batch << 2) + TILE_SUM_BYTES;
}

/** Eight i16 lanes, each the sum of two adjacent columns' c * x. */
// @ts-ignore: decorator
@inline
function dot(x: usize, codes: v128): v128 {
  return i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x), codes);
}

/** sum(c * x) over 16 columns of each sub-block, as i16 lanes; packed: 16 bytes of codes. */
// @ts-ignore: decorator
@inline
function dotSubBlocks(packed: v128, mask: v128, x: usize): v128 {
  const d0 = dot(x, v128.and(packed, mask));
  const d1 = dot(x + SUB_BLOCK_COLUMNS, v128.and(i16x8.shr_u(packed, 2), mask));
  const d2 = dot(x + 2 * SUB_BLOCK_COLUMNS, v128.and(i16x8.shr_u(packed, 4), mask));
  const d3 = dot(x + 3 * SUB_BLOCK_COLUMNS, v128.and(i16x8.shr_u(packed, 6), mask));
  return i16x8.add(i16x8.add(d0, d1), i16x8.add(d2, d3));
}

/** One weight row against one activation row (the odd row left over by rowDot2). */
function rowDot(w: usize, x: usize, blocks: i32, maskAt: usize, out: usize, sum: i32): void {
  const mask = v128.load(maskAt);
  let acc = i32x4.splat(0);
  for (let block = 0; block < blocks; block++) {
    let partial = i16x8.splat(0);
    for (let q: usize = 0; q < BLOCK_BYTES; q += 16) {
      partial = i16x8.add(partial, dotSubBlocks(v128.load(w + q), mask, x + q));
    }
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(partial));
    w += BLOCK_BYTES;
    x += BLOCK_COLUMNS;
  }
  store<i32>(out, horizontalSum(acc) - sum);
}

/** Two weight rows against one activation row: each activation load feeds both (batch 1). */
function rowDot2(w: usize, rowBytes: usize, x: usize, blocks: i32, maskAt: usize, out: usize, sum: i32): void {
  const mask = v128.load(maskAt);
  let acc0 = i32x4.splat(0);
  let acc1 = i32x4.splat(0);
  for (let block = 0; block < blocks; block++) {
    let partial0 = i16x8.splat(0);
    let partial1 = i16x8.splat(0);
    for (let q: usize = 0; q < BLOCK_BYTES; q += 16) {
      const p0 = v128.load(w + q);
      const p1 = v128.load(w + rowBytes + q);
      const xa = v128.load(x + q);
      const xb = v128.load(x + SUB_BLOCK_COLUMNS + q);
      const xc = v128.load(x + 2 * SUB_BLOCK_COLUMNS + q);
      const xd = v128.load(x + 3 * SUB_BLOCK_COLUMNS + q);
      const s0 = i16x8.add(
        i16x8.add(
          i16x8.relaxed_dot_i8x16_i7x16_s(xa, v128.and(p0, mask)),
          i16x8.relaxed_dot_i8x16_i7x16_s(xb, v128.and(i16x8.shr_u(p0, 2), mask)),
        ),
        i16x8.add(
          i16x8.relaxed_dot_i8x16_i7x16_s(xc, v128.and(i16x8.shr_u(p0, 4), mask)),
          i16x8.relaxed_dot_i8x16_i7x16_s(xd, v128.and(i16x8.shr_u(p0, 6), mask)),
        ),
      );
      const s1 = i16x8.add(
        i16x8.add(
          i16x8.relaxed_dot_i8x16_i7x16_s(xa, v128.and(p1, mask)),
          i16x8.relaxed_dot_i8x16_i7x16_s(xb, v128.and(i16x8.shr_u(p1, 2), mask)),
        ),
        i16x8.add(
          i16x8.relaxed_dot_i8x16_i7x16_s(xc, v128.and(i16x8.shr_u(p1, 4), mask)),
          i16x8.relaxed_dot_i8x16_i7x16_s(xd, v128.and(i16x8.shr_u(p1, 6), mask)),
        ),
      );
      partial0 = i16x8.add(partial0, s0);
      partial1 = i16x8.add(partial1, s1);
    }
    acc0 = i32x4.add(acc0, i32x4.extadd_pairwise_i16x8_s(partial0));
    acc1 = i32x4.add(acc1, i32x4.extadd_pairwise_i16x8_s(partial1));
    w += BLOCK_BYTES;
    x += BLOCK_COLUMNS;
  }
  store<i32>(out, horizontalSum(acc0) - sum);
  store<i32>(out, horizontalSum(acc1) - sum, 4);
}

/** Adds the widened i16 partial sums of one block to the tile's i32 sums in the workspace. */
// @ts-ignore: decorator
@inline
function flush(tileSums: usize, partial: v128): void {
  v128.store(tileSums, i32x4.add(v128.load(tileSums), i32x4.extadd_pairwise_i16x8_s(partial)));
}

/**
 * One weight row against TILE_ROWS activation rows: each unpacked code vector feeds four dots.
 * One pass per sub-block (the shift an immediate in each), so that four activation loads are
 * live per step; the i32 sums sit in the workspace because the registers hold the i16 ones.
 */
function rowDotTile(
  w: usize,
  x: usize,
  xStride: usize,
  blocks: i32,
  maskAt: usize,
  out: usize,
  outStride: usize,
  sums: usize,
  tileSums: usize,
): void {
  const mask = v128.load(maskAt);
  const zero = i32x4.splat(0);
  v128.store(tileSums, zero);
  v128.store(tileSums, zero, 16);
  v128.store(tileSums, zero, 32);
  v128.store(tileSums, zero, 48);
  const x1 = xStride;
  const x2 = 2 * xStride;
  const x3 = 3 * xStride;
  for (let block = 0; block < blocks; block++) {
    let p0 = i16x8.splat(0);
    let p1 = i16x8.splat(0);
    let p2 = i16x8.splat(0);
    let p3 = i16x8.splat(0);
    for (let q: usize = 0; q < BLOCK_BYTES; q += 16) {
      const codes = v128.and(v128.load(w + q), mask);
      const xq = x + q;
      p0 = i16x8.add(p0, dot(xq, codes));
      p1 = i16x8.add(p1, dot(xq + x1, codes));
      p2 = i16x8.add(p2, dot(xq + x2, codes));
      p3 = i16x8.add(p3, dot(xq + x3, codes));
    }
    for (let q: usize = 0; q < BLOCK_BYTES; q += 16) {
      const codes = v128.and(i16x8.shr_u(v128.load(w + q), 2), mask);
      const xq = x + SUB_BLOCK_COLUMNS + q;
      p0 = i16x8.add(p0, dot(xq, codes));
      p1 = i16x8.add(p1, dot(xq + x1, codes));
      p2 = i16x8.add(p2, dot(xq + x2, codes));
      p3 = i16x8.add(p3, dot(xq + x3, codes));
    }
    for (let q: usize = 0; q < BLOCK_BYTES; q += 16) {
      const codes = v128.and(i16x8.shr_u(v128.load(w + q), 4), mask);
      const xq = x + 2 * SUB_BLOCK_COLUMNS + q;
      p0 = i16x8.add(p0, dot(xq, codes));
      p1 = i16x8.add(p1, dot(xq + x1, codes));
      p2 = i16x8.add(p2, dot(xq + x2, codes));
      p3 = i16x8.add(p3, dot(xq + x3, codes));
    }
    for (let q: usize = 0; q < BLOCK_BYTES; q += 16) {
      const codes = v128.and(i16x8.shr_u(v128.load(w + q), 6), mask);
      const xq = x + 3 * SUB_BLOCK_COLUMNS + q;
      p0 = i16x8.add(p0, dot(xq, codes));
      p1 = i16x8.add(p1, dot(xq + x1, codes));
      p2 = i16x8.add(p2, dot(xq + x2, codes));
      p3 = i16x8.add(p3, dot(xq + x3, codes));
    }
    flush(tileSums, p0);
    flush(tileSums + 16, p1);
    flush(tileSums + 32, p2);
    flush(tileSums + 48, p3);
    w += BLOCK_BYTES;
    x += BLOCK_COLUMNS;
  }
  store<i32>(out, horizontalSum(v128.load(tileSums)) - load<i32>(sums));
  store<i32>(out + outStride, horizontalSum(v128.load(tileSums, 16)) - load<i32>(sums, 4));
  store<i32>(out + 2 * outStride, horizontalSum(v128.load(tileSums, 32)) - load<i32>(sums, 8));
  store<i32>(out + 3 * outStride, horizontalSum(v128.load(tileSums, 48)) - load<i32>(sums, 12));
}

/**
 * out[b * rows + r] = sum_c T[r, c] * activations[b * paddedCols + c] (i32) for b < batch,
 * r < rows. `workspace` holds workspaceBytes(batch, paddedCols) bytes.
 */
export function ternaryMatmul(
  codes: usize,
  rows: i32,
  paddedCols: i32,
  activations: usize,
  batch: i32,
  out: usize,
  workspace: usize,
): void {
  const rowBytes = <usize>paddedCols >> 2;
  const blocks = paddedCols / <i32>BLOCK_COLUMNS;
  const xStride = <usize>paddedCols;
  const outStride = <usize>rows << 2;
  const maskAt = workspace;
  const sums = maskAt + MASK_BYTES;
  const tileSums = sums + lineAligned(<usize>batch << 2);
  v128.store(maskAt, i8x16.splat(3));
  activationSums(activations, paddedCols, batch, sums);
  let b = 0;
  for (; b + TILE_ROWS <= batch; b += TILE_ROWS) {
    const x = activations + <usize>b * xStride;
    const tileOut = out + <usize>b * outStride;
    const rowSums = sums + (<usize>b << 2);
    for (let r = 0; r < rows; r++) {
      const w = codes + <usize>r * rowBytes;
      rowDotTile(w, x, xStride, blocks, maskAt, tileOut + (<usize>r << 2), outStride, rowSums, tileSums);
    }
  }
  for (; b < batch; b++) {
    const x = activations + <usize>b * xStride;
    const sum = load<i32>(sums + (<usize>b << 2));
    const rowOut = out + <usize>b * outStride;
    let r = 0;
    for (; r + 2 <= rows; r += 2) {
      rowDot2(codes + <usize>r * rowBytes, rowBytes, x, blocks, maskAt, rowOut + (<usize>r << 2), sum);
    }
    if (r < rows) rowDot(codes + <usize>r * rowBytes, x, blocks, maskAt, rowOut + (<usize>r << 2), sum);
  }
}
