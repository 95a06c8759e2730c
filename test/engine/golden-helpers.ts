import { readFileSync } from "node:fs";
import { join } from "node:path";

/** MODEL.md's comparison rule for a quantised network against the original's logits. */
export const TIGHT_RELATIVE_ERROR = 1e-4;
export const LOOSE_RELATIVE_ERROR = 5e-2;
export const MIN_ARGMAX_AGREEMENT = 0.95;
export const GREEDY_MARGIN_THRESHOLD = 1e-3;

export const GOLDEN_DIR = join(import.meta.dirname, "..", "fixtures", "golden");
export const GOLDEN_MODELS = ["dev-tiny-fp32", "dev-small-fp16"] as const;

export interface GoldenCase {
  ids: number[];
  rows: Record<string, number[]>;
  argmax: number[];
  greedy: number[];
  greedy_margins: number[];
}

export function readGolden(name: string): { cases: GoldenCase[] } {
  return JSON.parse(readFileSync(join(GOLDEN_DIR, name, "golden.json"), "utf8"));
}

export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let k = 0; k < expected.length; k++) {
    diff += (actual[k] - expected[k]) ** 2;
    norm += expected[k] ** 2;
  }
  return Math.sqrt(diff / norm);
}

export function argmax(values: ArrayLike<number>, offset = 0, length = values.length): number {
  let best = 0;
  for (let k = 1; k < length; k++) if (values[offset + k] > values[offset + best]) best = k;
  return best;
}
