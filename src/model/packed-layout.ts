import type { ModelConfig } from "../engine/config.js";
import { packedByteLength, paddedColumns } from "../engine/ternary.js";
import { DTYPE_BYTES, type Dtype, numel } from "./safetensors.js";

/**
 * The tensors of a model as Trine holds it in memory and in its packed file (docs/PACKED_FORMAT.md):
 * ternary weights as 2-bit codes (U8) with a per-tensor scale, everything else in float. One
 * plan serves three places: the in-memory arena an HF checkpoint is converted into, the packed
 * file's header, and the check that a packed file holds what the config promises.
 */

export type EmbeddingDtype = "F32" | "F16" | "BF16";

export interface PlannedTensor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface BitLinearShape {
  /** The HF module path, e.g. "model.layers.0.attn.i_proj". */
  readonly prefix: string;
  readonly rows: number;
  readonly cols: number;
}

export const SCALE_SUFFIX = ".weight_scale";

export function bitLinearShapes(config: ModelConfig): BitLinearShape[] {
  const { hiddenSize: d, intermediateSize: I, vocabSize: V } = config;
  const shapes: BitLinearShape[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    for (const name of ["i_proj", "f_proj", "g_proj", "o_proj"])
      shapes.push({ prefix: `${p}.attn.${name}`, rows: d, cols: d });
    shapes.push({ prefix: `${p}.mlp.gate_proj`, rows: 2 * I, cols: d });
    shapes.push({ prefix: `${p}.mlp.down_proj`, rows: d, cols: I });
  }
  shapes.push({ prefix: "lm_head", rows: V, cols: d });
  return shapes;
}

/** Float tensors other than the embedding: norm gains and the lower-bound logits. */
export function floatTensorShapes(config: ModelConfig): { name: string; shape: number[] }[] {
  const { hiddenSize: d, numLayers: L } = config;
  const shapes = [{ name: "model.lower_bounds", shape: [L, d] }];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      { name: `${p}.attn_norm.weight`, shape: [d] },
      { name: `${p}.attn.g_norm.weight`, shape: [d] },
    );
    shapes.push({ name: `${p}.mlp_norm.weight`, shape: [d] });
  }
  shapes.push({ name: "model.norm.weight", shape: [d] });
  for (const b of bitLinearShapes(config)) shapes.push({ name: `${b.prefix}.norm.weight`, shape: [b.cols] });
  return shapes;
}

export function planPackedLayout(
  config: ModelConfig,
  embeddingDtype: EmbeddingDtype,
): { tensors: PlannedTensor[]; totalBytes: number } {
  const tensors: PlannedTensor[] = [];
  let offset = 0;
  const add = (name: string, dtype: Dtype, shape: number[]) => {
    const byteLength = numel(shape) * DTYPE_BYTES[dtype];
    tensors.push({ name, dtype, shape, byteOffset: offset, byteLength });
    offset += byteLength;
  };
  // Packed codes first: each is a multiple of 64 bytes, so the float tensors after them stay
  // 4-byte aligned and can be viewed in place. The 16-bit embedding goes last for the same reason.
  for (const b of bitLinearShapes(config)) {
    add(`${b.prefix}.weight`, "U8", [b.rows, paddedColumns(b.cols) / 4]);
  }
  for (const b of bitLinearShapes(config)) add(`${b.prefix}${SCALE_SUFFIX}`, "F32", [1]);
  for (const f of floatTensorShapes(config)) add(f.name, "F32", f.shape);
  add("model.embeddings.weight", embeddingDtype, [config.vocabSize, config.hiddenSize]);
  return { tensors, totalBytes: offset };
}

export function packedCodesBytes(b: BitLinearShape): number {
  return packedByteLength(b.rows, b.cols);
}
