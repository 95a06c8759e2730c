import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ModelConfig, parseModelConfig } from "../engine/config.js";
import { ModelFileError } from "../engine/errors.js";
import type { Model } from "../engine/model.js";
import { ternarizeWeights } from "../engine/quantize.js";
import { packTernary } from "../engine/ternary.js";
import { assembleModel, type TensorViews } from "./assemble.js";
import { readFloatTensor, toFloat16Bits } from "./float-tensor.js";
import { bitLinearShapes, type EmbeddingDtype, planPackedLayout, SCALE_SUFFIX } from "./packed-layout.js";
import {
  readSafetensorsHeader,
  readTensorBytes,
  type SafetensorsHeader,
  type TensorInfo,
} from "./safetensors.js";

/**
 * Loads a Hugging Face MatMul-free checkpoint (config.json + model.safetensors or a sharded
 * index) and ternarises its latent weights once, into the packed in-memory layout. The latent
 * floats are read one tensor at a time and dropped, so peak memory is the packed model plus the
 * largest latent tensor.
 */

export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ModelFileError(path, `cannot read: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelFileError(path, `not valid JSON (${(error as Error).message})`);
  }
}

export function readModelConfig(dir: string): ModelConfig {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new ModelFileError(path, "missing: a model directory needs config.json");
  return parseModelConfig(readJsonFile(path));
}

interface SourceTensor {
  readonly header: SafetensorsHeader;
  readonly info: TensorInfo;
}

/** Every tensor of the checkpoint, across shards, by name. */
export function openCheckpointTensors(dir: string): Map<string, SourceTensor> {
  const indexPath = join(dir, "model.safetensors.index.json");
  const single = join(dir, "model.safetensors");
  const files: string[] = [];
  if (existsSync(indexPath)) {
    const index = readJsonFile(indexPath) as { weight_map?: Record<string, string> };
    if (!index || typeof index.weight_map !== "object" || index.weight_map === null) {
      throw new ModelFileError(indexPath, 'has no "weight_map" object');
    }
    for (const file of new Set(Object.values(index.weight_map))) {
      if (typeof file !== "string" || file.includes("/") || file.includes("\\")) {
        throw new ModelFileError(indexPath, `weight_map names an invalid shard ${JSON.stringify(file)}`);
      }
      files.push(join(dir, file));
    }
  } else if (existsSync(single)) {
    files.push(single);
  } else {
    throw new ModelFileError(single, "missing: expected model.safetensors or model.safetensors.index.json");
  }
  const tensors = new Map<string, SourceTensor>();
  for (const file of files) {
    if (!existsSync(file))
      throw new ModelFileError(file, "missing shard named by model.safetensors.index.json");
    const header = readSafetensorsHeader(file);
    for (const info of header.tensors.values()) tensors.set(info.name, { header, info });
  }
  return tensors;
}

function requireTensor(
  tensors: Map<string, SourceTensor>,
  name: string,
  shape: readonly number[],
  where: string,
): SourceTensor {
  const t = tensors.get(name);
  if (!t) throw new ModelFileError(where, `missing tensor "${name}"`);
  if (t.info.shape.length !== shape.length || t.info.shape.some((s, k) => s !== shape[k])) {
    throw new ModelFileError(
      t.header.path,
      `tensor "${name}" has shape [${t.info.shape}], expected [${shape}]`,
    );
  }
  if (!["F32", "F16", "BF16"].includes(t.info.dtype)) {
    throw new ModelFileError(
      t.header.path,
      `tensor "${name}" has dtype ${t.info.dtype}; expected F32, F16 or BF16`,
    );
  }
  return t;
}

export interface HfLoadOptions {
  /** Store the embedding as F16 instead of its checkpoint dtype (halves its memory). */
  readonly embeddingDtype?: EmbeddingDtype;
  /** Called after each tensor, for progress reporting. */
  readonly onTensor?: (name: string, done: number, total: number) => void;
}

export interface LoadedWeights {
  readonly model: Model;
  /** The arena holding every tensor, in packed-file order (what `trine convert` writes). */
  readonly views: TensorViews;
  readonly layout: ReturnType<typeof planPackedLayout>;
}

export function loadHfCheckpoint(dir: string, options: HfLoadOptions = {}): LoadedWeights {
  const config = readModelConfig(dir);
  const tensors = openCheckpointTensors(dir);
  const where = join(dir, "model.safetensors");
  const { hiddenSize: d, vocabSize: V } = config;

  const embeddingSource = requireTensor(tensors, "model.embeddings.weight", [V, d], where);
  const embeddingDtype = options.embeddingDtype ?? (embeddingSource.info.dtype as EmbeddingDtype);
  const layout = planPackedLayout(config, embeddingDtype);
  const buffer = new SharedArrayBuffer(layout.totalBytes);
  const entries = new Map(
    layout.tensors.map((t) => [t.name, { byteOffset: t.byteOffset, dtype: t.dtype, shape: t.shape }]),
  );
  const planned = new Map(layout.tensors.map((t) => [t.name, t]));
  const total = layout.tensors.length;
  let done = 0;
  const progress = (name: string) => options.onTensor?.(name, ++done, total);

  for (const b of bitLinearShapes(config)) {
    const latentName =
      b.prefix === "lm_head" && config.tieWordEmbeddings ? "model.embeddings.weight" : `${b.prefix}.weight`;
    const source = requireTensor(tensors, latentName, [b.rows, b.cols], where);
    const { ternary, weightScale } = ternarizeWeights(readFloatTensor(source.header, source.info));
    const codes = planned.get(`${b.prefix}.weight`)!;
    packTernary(ternary, b.rows, b.cols, new Uint8Array(buffer, codes.byteOffset, codes.byteLength));
    progress(`${b.prefix}.weight`);
    new Float32Array(buffer, planned.get(`${b.prefix}${SCALE_SUFFIX}`)!.byteOffset, 1)[0] = weightScale;
    progress(`${b.prefix}${SCALE_SUFFIX}`);
  }
  for (const t of layout.tensors) {
    if (t.dtype !== "F32" || t.name.endsWith(SCALE_SUFFIX)) continue;
    const target = new Float32Array(buffer, t.byteOffset, t.byteLength / 4);
    if (t.name === "model.lower_bounds" && !config.useLowerBound && !tensors.has(t.name)) {
      target.fill(0);
    } else {
      const source = requireTensor(tensors, t.name, t.shape, where);
      target.set(readFloatTensor(source.header, source.info));
    }
    progress(t.name);
  }
  const embedding = planned.get("model.embeddings.weight")!;
  const embeddingTarget = new Uint8Array(buffer, embedding.byteOffset, embedding.byteLength);
  if (embeddingDtype === embeddingSource.info.dtype) {
    readTensorBytes(embeddingSource.header, embeddingSource.info, embeddingTarget);
  } else if (embeddingDtype === "F16") {
    const values = readFloatTensor(embeddingSource.header, embeddingSource.info);
    toFloat16Bits(values, new Uint16Array(buffer, embedding.byteOffset, values.length));
  } else if (embeddingDtype === "F32") {
    new Float32Array(buffer, embedding.byteOffset, V * d).set(
      readFloatTensor(embeddingSource.header, embeddingSource.info),
    );
  } else {
    throw new ModelFileError(
      where,
      `cannot store a ${embeddingSource.info.dtype} embedding as ${embeddingDtype}`,
    );
  }
  progress("model.embeddings.weight");

  const views: TensorViews = { buffer, entries, file: where };
  return { model: assembleModel(config, views), views, layout };
}
