/**
 * xoshiro128** 1.1 (Blackman & Vigna), seeded through splitmix64.
 *
 * The whole generator is its 128-bit state, a `Uint32Array(4)` the caller owns, so a sequence's
 * random stream is saved and restored by copying four words. Only 32-bit integer arithmetic is
 * used (`Math.imul`, shifts), which JavaScript defines exactly, so a seed gives the same stream on
 * every platform; the known-answer test pins it to the reference C.
 */

export type RngState = Uint32Array;

const RNG_STATE_WORDS = 4;
const UINT64_MASK = (1n << 64n) - 1n;

/** The state a seed (any safe integer, negative ones taken modulo 2^64) starts from. */
export function rngStateFromSeed(seed: number): RngState {
  // splitmix64 spreads nearby seeds (0, 1, 2…) over unrelated states and never yields two zero
  // words in a row, so the all-zero state xoshiro must avoid cannot occur. BigInt is fine here:
  // it runs once per sequence, not per token.
  let counter = BigInt.asUintN(64, BigInt(seed));
  const state = new Uint32Array(RNG_STATE_WORDS);
  for (let word = 0; word < RNG_STATE_WORDS; word += 2) {
    counter = (counter + 0x9e3779b97f4a7c15n) & UINT64_MASK;
    let z = counter;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & UINT64_MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & UINT64_MASK;
    z ^= z >> 31n;
    state[word] = Number(z & 0xffffffffn);
    state[word + 1] = Number(z >> 32n);
  }
  return state;
}

/** The next 32 random bits, as an unsigned integer; advances `state`. */
export function nextUint32(state: RngState): number {
  const s0 = state[0];
  const s1 = state[1];
  const s2 = state[2] ^ s0;
  const s3 = state[3] ^ s1;
  const result = Math.imul(rotateLeft(Math.imul(s1, 5), 7), 9) >>> 0;
  state[0] = s0 ^ s3;
  state[1] = s1 ^ s2;
  state[2] = s2 ^ (s1 << 9);
  state[3] = rotateLeft(s3, 11);
  return result;
}

/**
 * A uniform double in [0, 1) with all 53 mantissa bits random (two draws). 32 bits would leave
 * steps of 2^-32, coarse next to the smallest probabilities of a 32k vocabulary.
 */
export function nextUnitFloat(state: RngState): number {
  const high27 = nextUint32(state) >>> 5;
  const low26 = nextUint32(state) >>> 6;
  return (high27 * 2 ** 26 + low26) * 2 ** -53;
}

function rotateLeft(x: number, bits: number): number {
  return (x << bits) | (x >>> (32 - bits));
}
