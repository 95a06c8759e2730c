import type { HfLoadOptions, LoadedWeights } from "./hf-checkpoint.js";
import { loadHfCheckpoint } from "./hf-checkpoint.js";
import { isPackedModelDir, loadPackedModel } from "./packed-model.js";

export type ModelFormat = "packed" | "hf";

export function modelFormat(dir: string): ModelFormat {
  return isPackedModelDir(dir) ? "packed" : "hf";
}

/** Loads the weights of a packed Trine directory or a Hugging Face checkpoint directory. */
export function loadModelWeights(
  dir: string,
  options: HfLoadOptions = {},
): LoadedWeights & { format: ModelFormat } {
  const format = modelFormat(dir);
  const weights = format === "packed" ? loadPackedModel(dir) : loadHfCheckpoint(dir, options);
  return { ...weights, format };
}
