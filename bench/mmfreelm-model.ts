import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../loadtest/server.js";
import { writeRandomPackedModel } from "./random-packed-model.js";

/** MMfreeLM's published sizes (the GLU width follows from the hidden size, as in the checkpoints). */
export const MMFREELM_SHAPES = {
  "370M": { hiddenSize: 1024, numLayers: 24 },
  "1.3B": { hiddenSize: 2048, numLayers: 24 },
  "2.7B": { hiddenSize: 2560, numLayers: 32 },
} as const;
export type MmfreelmSize = keyof typeof MMFREELM_SHAPES;

/**
 * `.work/random-<size>-packed`: random ternary weights in MMfreeLM-<size>'s shapes with the Llama
 * 32000-token tokenizer, the benches' stand-in for the published model (their speed depends on the
 * shapes, not on the values). Written on first use, then shared by every bench; not committed.
 */
export function randomMmfreelmModel(size: MmfreelmSize, log: (line: string) => void = console.log): string {
  const dir = join(REPO_ROOT, ".work", `random-${size.toLowerCase()}-packed`);
  if (existsSync(join(dir, "model.trine.safetensors"))) return dir;
  log(`writing a random packed ${size} model to ${dir} ...`);
  writeRandomPackedModel(dir, {
    ...MMFREELM_SHAPES[size],
    vocabSize: 32000,
    tokenizerJson: join(REPO_ROOT, "test", "fixtures", "tokenizers", "llama-32000", "tokenizer.json"),
  });
  return dir;
}
