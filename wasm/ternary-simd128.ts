// The ternary matmul in baseline WebAssembly SIMD128, which every Node >= 16.4 runs without flags.
// Contract: src/engine/kernels/kernel.ts; packed layout: src/engine/ternary.ts; measurements and
// build: docs/KERNELS-wasm.md.
//
// SIMD128's only integer multiply-accumulate is i32x4.dot_i16x8_s (pmaddwd on x64), so codes and
// activations are i16. A code is not shifted down to bit 0: masking byte i leaves c * 4^j for
// sub-block j, and sub-block j's activations are scaled by 4^(3-j) once per call, so every product
// is 64 * c * x and one accumulator serves all four sub-blocks; the final >> 6 is exact.
// Bounds: |x * 4^(3-j)| <= 128 * 64 = 8192 fits i16; |64 * sum(c * x)| <= 16384 * paddedCols fits
// i32 while paddedCols <= 131072 (WASM_MAX_PADDED_COLUMNS on the JS side).
//
// Two V8 (11.3) habits shape the loops, both read off --print-wasm-code:
// - TurboFan hoists every load of a loop body to its top, so a body with more loads than free
//   vector registers spills. Each body here loads at most six vectors.
// - A v128.const is rematerialised at each use inside a loop (a load per use), so the masks are
//   written to the workspace and loaded into registers once per row.

import {
  activationSums,
  BLOCK_BYTES,
  BLOCK_COLUMNS,
  horizontalSum,
  lineAligned,
  SUB_BLOCK_COLUMNS,
  TILE_ROWS,
} from "./common";

/** Bytes between the i16 activations of sub-blocks j and j + 1. */
const SUB_BLOCK_STRIDE: usize = 2 * SUB_BLOCK_COLUMNS;
const MASK_BYTES: usize = 64;

/** Workspace: the four masks, the activation sums, and the widened activations. */
export function workspaceBytes(batch: i32, paddedCols: i32): usize {
  return MASK_BYTES + lineAligned(<usize>batch << 2) + ((<usize>batch * <usize>paddedCols) << 1);
}

/** The i16 mask selecting sub-block j's code in each lane: 3 << 2j, in the workspace. */
function storeMasks(masks: usize): void {
  v128.store(masks, i16x8.splat(0x03));
  v128.store(masks, i16x8.splat(0x0c), 16);
  v128.store(masks, i16x8.splat(0x30), 32);
  v128.store(masks, i16x8.splat(0xc0), 48);
}

/** x16 = x8 widened to i16, sub-block j of each block scaled by 4^(3-j) (see the top). */
function widenScaled(x8: usize, x16: usize, paddedCols: i32): void {
  for (let c = 0; c < paddedCols; c += 16) {
    const v = v128.load(x8 + <usize>c);
    const shift = 6 - 2 * ((c >> 6) & 3);
    v128.store(x16 + (<usize>c << 1), i16x8.shl(i16x8.extend_low_i8x16_s(v), shift));
    v128.store(x16 + (<usize>c << 1), i16x8.shl(i16x8.extend_high_i8x16_s(v), shift), 16);
  }
}

// @ts-ignore: decorator
@inline
function dot(codes: v128, x: usize): v128 {
  return i32x4.dot_i16x8_s(codes, v128.load(x));
}

/** 64 * sum(c * x) over 8 columns of all four sub-blocks; codes: 8 packed bytes as u16 lanes. */
// @ts-ignore: decorator
@inline
function dotSubBlocks(codes: v128, m0: v128, m1: v128, m2: v128, m3: v128, x: usize): v128 {
  const d0 = dot(v128.and(codes, m0), x);
  const d1 = dot(v128.and(codes, m1), x + SUB_BLOCK_STRIDE);
  const d2 = dot(v128.and(codes, m2), x + 2 * SUB_BLOCK_STRIDE);
  const d3 = dot(v128.and(codes, m3), x + 3 * SUB_BLOCK_STRIDE);
  // A tree, not a chain: the accumulator waits on one add per call.
  return i32x4.add(i32x4.add(d0, d1), i32x4.add(d2, d3));
}

/** One weight row against one activation row (the odd row left over by rowDot2). */
function rowDot(w: usize, x: usize, blocks: i32, masks: usize, out: usize, sum: i32): void {
  const m0 = v128.load(masks);
  const m1 = v128.load(masks, 16);
  const m2 = v128.load(masks, 32);
  const m3 = v128.load(masks, 48);
  let acc = i32x4.splat(0);
  for (let block = 0; block < blocks; block++) {
    for (let h: usize = 0; h < BLOCK_BYTES; h += 8) {
      acc = i32x4.add(acc, dotSubBlocks(v128.load8x8_u(w + h), m0, m1, m2, m3, x + 2 * h));
    }
    w += BLOCK_BYTES;
    x += 2 * BLOCK_COLUMNS;
  }
  store<i32>(out, (horizontalSum(acc) >> 6) - sum);
}

/** Two weight rows against one activation row: each activation load feeds both (batch 1). */
function rowDot2(w: usize, rowBytes: usize, x: usize, blocks: i32, masks: usize, out: usize, sum: i32): void {
  const m0 = v128.load(masks);
  const m1 = v128.load(masks, 16);
  const m2 = v128.load(masks, 32);
  const m3 = v128.load(masks, 48);
  let acc0 = i32x4.splat(0);
  let acc1 = i32x4.splat(0);
  for (let block = 0; block < blocks; block++) {
    for (let h: usize = 0; h < BLOCK_BYTES; h += 8) {
      const c0 = v128.load8x8_u(w + h);
      const c1 = v128.load8x8_u(w + rowBytes + h);
      const xh = x + 2 * h;
      const xa = v128.load(xh);
      const xb = v128.load(xh + SUB_BLOCK_STRIDE);
      const xc = v128.load(xh + 2 * SUB_BLOCK_STRIDE);
      const xd = v128.load(xh + 3 * SUB_BLOCK_STRIDE);
      const s0 = i32x4.add(
        i32x4.add(i32x4.dot_i16x8_s(v128.and(c0, m0), xa), i32x4.dot_i16x8_s(v128.and(c0, m1), xb)),
        i32x4.add(i32x4.dot_i16x8_s(v128.and(c0, m2), xc), i32x4.dot_i16x8_s(v128.and(c0, m3), xd)),
      );
      const s1 = i32x4.add(
        i32x4.add(i32x4.dot_i16x8_s(v128.and(c1, m0), xa), i32x4.dot_i16x8_s(v128.and(c1, m1), xb)),
        i32x4.add(i32x4.dot_i16x8_s(v128.and(c1, m2), xc), i32x4.dot_i16x8_s(v128.and(c1, m3), xd)),
      );
      acc0 = i32x4.add(acc0, s0);
      acc1 = i32x4.add(acc1, s1);
    }
    w += BLOCK_BYTES;
    x += 2 * BLOCK_COLUMNS;
  }
  store<i32>(out, (horizontalSum(acc0) >> 6) - sum);
  store<i32>(out, (horizontalSum(acc1) >> 6) - sum, 4);
}

/**
 * One weight row against TILE_ROWS activation rows: each masked code vector feeds four dots.
 * Sub-block by sub-block, so that one mask and four activation loads are live per step.
 */
function rowDotTile(
  w: usize,
  x: usize,
  xStride: usize,
  blocks: i32,
  masks: usize,
  out: usize,
  outStride: usize,
  sums: usize,
): void {
  let acc0 = i32x4.splat(0);
  let acc1 = i32x4.splat(0);
  let acc2 = i32x4.splat(0);
  let acc3 = i32x4.splat(0);
  for (let block = 0; block < blocks; block++) {
    for (let j: usize = 0; j < 4; j++) {
      const mask = v128.load(masks + 16 * j);
      const xj = x + SUB_BLOCK_STRIDE * j;
      for (let h: usize = 0; h < BLOCK_BYTES; h += 8) {
        const codes = v128.and(v128.load8x8_u(w + h), mask);
        const xh = xj + 2 * h;
        acc0 = i32x4.add(acc0, dot(codes, xh));
        acc1 = i32x4.add(acc1, dot(codes, xh + xStride));
        acc2 = i32x4.add(acc2, dot(codes, xh + 2 * xStride));
        acc3 = i32x4.add(acc3, dot(codes, xh + 3 * xStride));
      }
    }
    w += BLOCK_BYTES;
    x += 2 * BLOCK_COLUMNS;
  }
  store<i32>(out, (horizontalSum(acc0) >> 6) - load<i32>(sums));
  store<i32>(out + outStride, (horizontalSum(acc1) >> 6) - load<i32>(sums, 4));
  store<i32>(out + 2 * outStride, (horizontalSum(acc2) >> 6) - load<i32>(sums, 8));
  store<i32>(out + 3 * outStride, (horizontalSum(acc3) >> 6) - load<i32>(sums, 12));
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
  const xStride = <usize>paddedCols << 1;
  const outStride = <usize>rows << 2;
  const masks = workspace;
  const sums = masks + MASK_BYTES;
  const widened = sums + lineAligned(<usize>batch << 2);
  storeMasks(masks);
  activationSums(activations, paddedCols, batch, sums);
  for (let b = 0; b < batch; b++) {
    widenScaled(activations + <usize>b * <usize>paddedCols, widened + <usize>b * xStride, paddedCols);
  }
  let b = 0;
  for (; b + TILE_ROWS <= batch; b += TILE_ROWS) {
    const x = widened + <usize>b * xStride;
    const tileOut = out + <usize>b * outStride;
    const tileSums = sums + (<usize>b << 2);
    for (let r = 0; r < rows; r++) {
      const w = codes + <usize>r * rowBytes;
      rowDotTile(w, x, xStride, blocks, masks, tileOut + (<usize>r << 2), outStride, tileSums);
    }
  }
  for (; b < batch; b++) {
    const x = widened + <usize>b * xStride;
    const sum = load<i32>(sums + (<usize>b << 2));
    const rowOut = out + <usize>b * outStride;
    let r = 0;
    for (; r + 2 <= rows; r += 2) {
      rowDot2(codes + <usize>r * rowBytes, rowBytes, x, blocks, masks, rowOut + (<usize>r << 2), sum);
    }
    if (r < rows) rowDot(codes + <usize>r * rowBytes, x, blocks, masks, rowOut + (<usize>r << 2), sum);
  }
}
