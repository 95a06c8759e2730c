/**
 * IEEE half and bfloat16 to float32. Node 20 has no Float16Array, and checkpoints store
 * embeddings and latent weights in both formats.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * A normal half moves into a float's bit fields as it is (exponent rebased from 15 to 127): a
 * shift and an add, where the arithmetic below needs Math.pow (~50 ns; a 640-wide embedding row
 * took 30 us of every token). Subnormals, infinities and NaN take the arithmetic.
 */
export function halfToFloat(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  if (exponent !== 0 && exponent !== 0x1f) {
    u32[0] = ((h & 0x8000) << 16) | ((exponent + 112) << 23) | ((h & 0x3ff) << 13);
    return f32[0];
  }
  const sign = h & 0x8000 ? -1 : 1;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** float32 to the nearest half (round to nearest even), for writing F16 tensors. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (half + (rest > halfway || (rest === halfway && half & 1) ? 1 : 0));
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  e = half >> 10;
  return sign | half;
}
