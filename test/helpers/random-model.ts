import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeRandomCheckpoint } from "../../bench/random-checkpoint.js";

export const BYTELEVEL_TOKENIZER = join(
  import.meta.dirname,
  "..",
  "fixtures",
  "tokenizers",
  "bytelevel-1k",
  "tokenizer.json",
);

/**
 * A small random-weight model whose vocabulary is the byte-level test tokenizer's (1000 ids,
 * bos 0, eos 1), so generation produces decodable text. Random weights make every token
 * plausible, which exercises detokenisation and stopping more than a trained model would.
 */
export function makeRandomTestModel(options: { hiddenSize?: number; numLayers?: number } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "trine-random-"));
  writeRandomCheckpoint(dir, {
    vocabSize: 1000,
    hiddenSize: options.hiddenSize ?? 64,
    numLayers: options.numLayers ?? 2,
    tokenizerJson: BYTELEVEL_TOKENIZER,
    bosTokenId: 0,
    eosTokenId: 1,
  });
  return dir;
}
