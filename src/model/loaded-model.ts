import type { Model } from "../engine/model.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { LoadedWeights } from "./hf-checkpoint.js";
import { loadModelWeights, type ModelFormat } from "./model-dir.js";
import { loadTokenizerFiles } from "./tokenizer-files.js";

/** Everything a model directory provides: weights, tokenizer and generation settings. */
export interface LoadedModel {
  readonly dir: string;
  readonly format: ModelFormat;
  readonly model: Model;
  readonly weights: LoadedWeights;
  readonly tokenizer: Tokenizer;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly generationConfig: Record<string, unknown>;
  /** Every id that ends generation: config, generation_config and tokenizer eos, de-duplicated. */
  readonly eosTokenIds: readonly number[];
}

/** Loads a model directory, tokenizer first so that a bad tokenizer fails before the weights load. */
export function loadModel(dir: string): LoadedModel {
  const files = loadTokenizerFiles(dir);
  const weights = loadModelWeights(dir);
  const eos = new Set<number>(weights.model.config.eosTokenIds);
  const generationEos = files.generationConfig.eos_token_id;
  for (const id of Array.isArray(generationEos) ? generationEos : [generationEos]) {
    if (Number.isInteger(id)) eos.add(id as number);
  }
  if (files.tokenizer.eosTokenId !== undefined) eos.add(files.tokenizer.eosTokenId);
  return {
    dir,
    format: weights.format,
    model: weights.model,
    weights,
    tokenizer: files.tokenizer,
    tokenizerConfig: files.tokenizerConfig,
    generationConfig: files.generationConfig,
    eosTokenIds: [...eos],
  };
}
