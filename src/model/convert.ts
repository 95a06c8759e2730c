import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ModelFileError } from "../engine/errors.js";
import { type HfLoadOptions, loadHfCheckpoint } from "./hf-checkpoint.js";
import { isPackedModelDir, PACKED_FILE, writePackedModel } from "./packed-model.js";

/** Files besides the weights that make a model directory usable; copied as they are. */
export const COMPANION_FILES = [
  "config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "generation_config.json",
  "special_tokens_map.json",
  "MODEL_CARD.md",
  "README.md",
] as const;

export interface ConvertResult {
  readonly packedBytes: number;
  readonly tensors: number;
}

/**
 * `trine convert`: ternarises a Hugging Face checkpoint once and writes the packed directory
 * (model.trine.safetensors plus the companion files), so that serving never reads latent floats.
 */
export function convertModel(hfDir: string, outDir: string, options: HfLoadOptions = {}): ConvertResult {
  if (isPackedModelDir(hfDir))
    throw new ModelFileError(join(hfDir, PACKED_FILE), "is already a packed Trine model");
  const weights = loadHfCheckpoint(hfDir, options);
  mkdirSync(outDir, { recursive: true });
  writePackedModel(join(outDir, PACKED_FILE), weights, { source: "hf_checkpoint" });
  for (const file of COMPANION_FILES) {
    if (existsSync(join(hfDir, file))) copyFileSync(join(hfDir, file), join(outDir, file));
  }
  return { packedBytes: weights.layout.totalBytes, tensors: weights.layout.tensors.length };
}
