import type { ModelConfig } from "../engine/config.js";
import { ModelFileError } from "../engine/errors.js";
import { deriveLowerBounds } from "../engine/lower-bounds.js";
import type { BitLinearWeights, Embedding, LayerWeights, Model } from "../engine/model.js";
import { paddedColumns } from "../engine/ternary.js";
import { type BitLinearShape, bitLinearShapes, type EmbeddingDtype, SCALE_SUFFIX } from "./packed-layout.js";
import type { Dtype } from "./safetensors.js";

/** Typed views of a model's tensors laid out in one buffer (usually a SharedArrayBuffer). */
export interface TensorViews {
  readonly buffer: ArrayBufferLike;
  /** name -> [byteOffset within buffer, dtype, shape] */
  readonly entries: ReadonlyMap<string, { byteOffset: number; dtype: Dtype; shape: readonly number[] }>;
  readonly file: string;
}

function view(views: TensorViews, name: string, dtype: Dtype): { offset: number; length: number } {
  const entry = views.entries.get(name);
  if (!entry) throw new ModelFileError(views.file, `missing tensor "${name}"`);
  if (entry.dtype !== dtype)
    throw new ModelFileError(views.file, `tensor "${name}" is ${entry.dtype}, expected ${dtype}`);
  const length = entry.shape.reduce((a, b) => a * b, 1);
  return { offset: entry.byteOffset, length };
}

function floats(views: TensorViews, name: string): Float32Array {
  const { offset, length } = view(views, name, "F32");
  if (offset % 4 !== 0)
    return new Float32Array(new Uint8Array(views.buffer, offset, length * 4).slice().buffer);
  return new Float32Array(views.buffer, offset, length);
}

function bitLinear(views: TensorViews, shape: BitLinearShape): BitLinearWeights {
  const { offset, length } = view(views, `${shape.prefix}.weight`, "U8");
  const paddedCols = paddedColumns(shape.cols);
  if (length !== (shape.rows * paddedCols) / 4) {
    throw new ModelFileError(
      views.file,
      `tensor "${shape.prefix}.weight" has ${length} packed bytes, expected ${(shape.rows * paddedCols) / 4}`,
    );
  }
  return {
    weights: {
      rows: shape.rows,
      cols: shape.cols,
      paddedCols,
      codes: new Uint8Array(views.buffer, offset, length),
      weightScale: floats(views, `${shape.prefix}${SCALE_SUFFIX}`)[0],
    },
    normGain: floats(views, `${shape.prefix}.norm.weight`),
  };
}

/** Builds the plain Model over the tensor views, without copying any weight. */
export function assembleModel(config: ModelConfig, views: TensorViews): Model {
  const { hiddenSize: d, vocabSize: V, numLayers: L } = config;
  const linears = new Map(bitLinearShapes(config).map((s) => [s.prefix, bitLinear(views, s)]));
  const layers: LayerWeights[] = [];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    layers.push({
      attnNorm: floats(views, `${p}.attn_norm.weight`),
      iProj: linears.get(`${p}.attn.i_proj`)!,
      fProj: linears.get(`${p}.attn.f_proj`)!,
      gProj: linears.get(`${p}.attn.g_proj`)!,
      gNorm: floats(views, `${p}.attn.g_norm.weight`),
      oProj: linears.get(`${p}.attn.o_proj`)!,
      mlpNorm: floats(views, `${p}.mlp_norm.weight`),
      gateProj: linears.get(`${p}.mlp.gate_proj`)!,
      downProj: linears.get(`${p}.mlp.down_proj`)!,
    });
  }
  const embeddingEntry = views.entries.get("model.embeddings.weight");
  if (!embeddingEntry) throw new ModelFileError(views.file, 'missing tensor "model.embeddings.weight"');
  const embeddingDtype = embeddingEntry.dtype as EmbeddingDtype;
  let embedding: Embedding;
  if (embeddingDtype === "F32") {
    embedding = { dtype: "F32", values: floats(views, "model.embeddings.weight") };
  } else if (embeddingDtype === "F16" || embeddingDtype === "BF16") {
    const { offset, length } = view(views, "model.embeddings.weight", embeddingDtype);
    const values =
      offset % 2 === 0
        ? new Uint16Array(views.buffer, offset, length)
        : new Uint16Array(new Uint8Array(views.buffer, offset, length * 2).slice().buffer);
    embedding = { dtype: embeddingDtype, values };
  } else {
    throw new ModelFileError(
      views.file,
      `tensor "model.embeddings.weight" has dtype ${embeddingDtype}, expected a float type`,
    );
  }
  if (embedding.values.length !== V * d) {
    throw new ModelFileError(views.file, `tensor "model.embeddings.weight" must be [${V}, ${d}]`);
  }
  const lowerBoundLogits = floats(views, "model.lower_bounds");
  return {
    config,
    embedding,
    lowerBoundLogits,
    lowerBounds: deriveLowerBounds(config, lowerBoundLogits),
    layers,
    finalNorm: floats(views, "model.norm.weight"),
    lmHead: linears.get("lm_head")!,
  };
}
