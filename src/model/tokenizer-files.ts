import { existsSync } from "node:fs";
import { join } from "node:path";
import { ModelFileError } from "../engine/errors.js";
import { createTokenizer, type Tokenizer, TokenizerError } from "../tokenizer/index.js";
import { readJsonFile } from "./hf-checkpoint.js";

export interface TokenizerFiles {
  readonly tokenizer: Tokenizer;
  /** tokenizer_config.json, or {} (the chat template lives here when a model has one). */
  readonly tokenizerConfig: Record<string, unknown>;
  /** generation_config.json, or {}. */
  readonly generationConfig: Record<string, unknown>;
}

function optionalJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  const json = readJsonFile(path);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelFileError(path, "must be a JSON object");
  }
  return json as Record<string, unknown>;
}

/** Reads tokenizer.json (+ tokenizer_config.json, generation_config.json) of a model directory. */
export function loadTokenizerFiles(dir: string): TokenizerFiles {
  const path = join(dir, "tokenizer.json");
  if (!existsSync(path)) throw new ModelFileError(path, "missing: the model directory needs tokenizer.json");
  const json = readJsonFile(path);
  const tokenizerConfig = optionalJson(join(dir, "tokenizer_config.json"));
  let tokenizer: Tokenizer;
  try {
    tokenizer = createTokenizer(json, tokenizerConfig);
  } catch (error) {
    if (error instanceof TokenizerError) throw new ModelFileError(path, error.message);
    throw error;
  }
  return { tokenizer, tokenizerConfig, generationConfig: optionalJson(join(dir, "generation_config.json")) };
}
