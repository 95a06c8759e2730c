import { getRandomValues } from "node:crypto";
import { type RngState, rngStateFromSeed } from "./rng.js";

/**
 * What the sampler remembers about one sequence: its random stream and the tokens the penalties
 * look at. Plain data, saved and restored alongside the recurrent state (`cloneSamplerState`, or
 * `structuredClone`), so a restored sequence samples exactly as the original would have.
 *
 * Both collections are sparse: a sequence touches a few hundred or thousand distinct tokens of a
 * vocabulary of tens of thousands, and the penalties only visit those.
 */
export interface SamplerState {
  readonly rng: RngState;
  /** Generated token id → how many times it was generated (presence and frequency penalties). */
  readonly generatedTokenCounts: Map<number, number>;
  /** Every token id in the prompt or generated so far (repetition penalty). */
  readonly seenTokens: Set<number>;
}

/**
 * The state of a new sequence. Without a seed the stream is seeded from the operating system's
 * randomness: the one impure step of the sampler, kept here so everything after it is
 * deterministic given the state.
 */
export function createSamplerState(promptTokens: ArrayLike<number>, seed?: number | null): SamplerState {
  return {
    rng: seed == null ? randomRngState() : rngStateFromSeed(seed),
    generatedTokenCounts: new Map(),
    seenTokens: new Set(Array.from(promptTokens)),
  };
}

export function cloneSamplerState(state: SamplerState): SamplerState {
  return {
    rng: state.rng.slice(),
    generatedTokenCounts: new Map(state.generatedTokenCounts),
    seenTokens: new Set(state.seenTokens),
  };
}

/** Counts a generated token towards the penalties of the following steps. */
export function recordGeneratedToken(state: SamplerState, token: number): void {
  state.generatedTokenCounts.set(token, (state.generatedTokenCounts.get(token) ?? 0) + 1);
  state.seenTokens.add(token);
}

function randomRngState(): RngState {
  const state = new Uint32Array(4);
  // xoshiro's one forbidden state; 2^-128 likely, but a stuck generator would emit zeros forever.
  while (state.every((word) => word === 0)) getRandomValues(state);
  return state;
}
