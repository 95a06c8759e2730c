import { bfloat16ToFloat, halfToFloat } from "./float16.js";
import type { Embedding } from "./model.js";

/** Copies the embedding row of `token` into out[offset .. offset + d) as float32. */
export function embeddingRow(
  embedding: Embedding,
  d: number,
  token: number,
  out: Float32Array,
  offset: number,
): void {
  const base = token * d;
  switch (embedding.dtype) {
    case "F32":
      out.set(embedding.values.subarray(base, base + d), offset);
      return;
    case "F16":
      for (let j = 0; j < d; j++) out[offset + j] = halfToFloat(embedding.values[base + j]);
      return;
    case "BF16":
      for (let j = 0; j < d; j++) out[offset + j] = bfloat16ToFloat(embedding.values[base + j]);
      return;
  }
}
