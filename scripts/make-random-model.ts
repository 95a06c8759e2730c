/**
 * Writes a random-weight checkpoint with the exact shapes of a published MatMul-free LM (32000
 * vocab, the Llama tokenizer), for `npm run bench` and conversion checks. Not committed:
 *   npx tsx scripts/make-random-model.ts OUT_DIR [--size 370M|1.3B|2.7B] [--dtype F32|F16]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeRandomCheckpoint } from "../bench/random-checkpoint.js";

export const PUBLISHED_SHAPES = {
  "370M": { hiddenSize: 1024, numLayers: 24 },
  "1.3B": { hiddenSize: 2048, numLayers: 24 },
  "2.7B": { hiddenSize: 2560, numLayers: 32 },
} as const;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { size: { type: "string", default: "370M" }, dtype: { type: "string", default: "F32" } },
});
const size = values.size as keyof typeof PUBLISHED_SHAPES;
if (positionals.length !== 1 || !(size in PUBLISHED_SHAPES) || !["F32", "F16"].includes(values.dtype!)) {
  console.error("usage: make-random-model.ts OUT_DIR [--size 370M|1.3B|2.7B] [--dtype F32|F16]");
  process.exit(2);
}
const { bytes } = writeRandomCheckpoint(positionals[0], {
  ...PUBLISHED_SHAPES[size],
  vocabSize: 32000,
  dtype: values.dtype as "F32" | "F16",
  tokenizerJson: join(import.meta.dirname, "..", "test", "fixtures", "tokenizers", "llama-32000", "tokenizer.json"),
});
console.log(`wrote ${positionals[0]}: ${size} shapes, ${values.dtype}, ${(bytes / 1e9).toFixed(2)} GB`);
