import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ModelFileError } from "../engine/errors.js";
import { assembleModel, type TensorViews } from "./assemble.js";
import type { LoadedWeights } from "./hf-checkpoint.js";
import { readModelConfig } from "./hf-checkpoint.js";
import { type EmbeddingDtype, planPackedLayout } from "./packed-layout.js";
import { readFileRange, readSafetensorsHeader } from "./safetensors.js";

/**
 * Trine's packed model file (docs/PACKED_FORMAT.md): a safetensors file whose ternary weights
 * are U8 tensors of 2-bit codes, so serving never reads float latent weights, and any
 * safetensors reader can still inspect it.
 */
export const PACKED_FILE = "model.trine.safetensors";
export const PACKED_FORMAT = "trine-packed";
export const PACKED_FORMAT_VERSION = "1";
export const TERNARY_LAYOUT = "ternary-2bit-codes-block256";

/** The data section starts on this boundary so tensors can be viewed with SIMD-friendly alignment. */
const DATA_ALIGNMENT = 64;

export function isPackedModelDir(dir: string): boolean {
  return existsSync(join(dir, PACKED_FILE));
}

export function writePackedModel(
  path: string,
  weights: LoadedWeights,
  extraMetadata: Record<string, string> = {},
): void {
  const header: Record<string, unknown> = {
    __metadata__: {
      format: PACKED_FORMAT,
      format_version: PACKED_FORMAT_VERSION,
      ternary_layout: TERNARY_LAYOUT,
      ...extraMetadata,
    },
  };
  for (const t of weights.layout.tensors) {
    header[t.name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [t.byteOffset, t.byteOffset + t.byteLength],
    };
  }
  let json = JSON.stringify(header);
  // The safetensors format allows trailing spaces in the header; they align the data section.
  const padding = (DATA_ALIGNMENT - ((8 + Buffer.byteLength(json)) % DATA_ALIGNMENT)) % DATA_ALIGNMENT;
  json += " ".repeat(padding);
  const headerBytes = Buffer.from(json, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = openSync(path, "w");
  try {
    writeSync(fd, length);
    writeSync(fd, headerBytes);
    const data = new Uint8Array(weights.views.buffer, 0, weights.layout.totalBytes);
    const chunk = 16 * 1024 * 1024;
    for (let offset = 0; offset < data.length; offset += chunk) {
      writeSync(fd, data.subarray(offset, Math.min(data.length, offset + chunk)));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads a packed model directory: the data section is streamed once into a SharedArrayBuffer and
 * every tensor is a view on it, so the weights exist once in memory and can be handed to worker
 * threads without copying.
 */
export function loadPackedModel(dir: string): LoadedWeights {
  const config = readModelConfig(dir);
  const path = join(dir, PACKED_FILE);
  const header = readSafetensorsHeader(path);
  if (header.metadata.format !== PACKED_FORMAT) {
    throw new ModelFileError(
      path,
      `metadata "format" is ${JSON.stringify(header.metadata.format)}, expected "${PACKED_FORMAT}"`,
    );
  }
  if (header.metadata.format_version !== PACKED_FORMAT_VERSION) {
    throw new ModelFileError(
      path,
      `format_version ${JSON.stringify(header.metadata.format_version)} is not supported (this Trine reads ${PACKED_FORMAT_VERSION})`,
    );
  }
  if (header.metadata.ternary_layout !== TERNARY_LAYOUT) {
    throw new ModelFileError(
      path,
      `ternary_layout ${JSON.stringify(header.metadata.ternary_layout)} is not supported`,
    );
  }
  const embedding = header.tensors.get("model.embeddings.weight");
  if (!embedding) throw new ModelFileError(path, 'missing tensor "model.embeddings.weight"');
  const layout = planPackedLayout(config, embedding.dtype as EmbeddingDtype);
  for (const expected of layout.tensors) {
    const actual = header.tensors.get(expected.name);
    if (!actual) throw new ModelFileError(path, `missing tensor "${expected.name}"`);
    if (actual.dtype !== expected.dtype) {
      throw new ModelFileError(
        path,
        `tensor "${expected.name}" is ${actual.dtype}, expected ${expected.dtype}`,
      );
    }
    if (
      actual.shape.length !== expected.shape.length ||
      actual.shape.some((s, k) => s !== expected.shape[k])
    ) {
      throw new ModelFileError(
        path,
        `tensor "${expected.name}" has shape [${actual.shape}], expected [${expected.shape}]`,
      );
    }
  }
  const dataSize = header.fileSize - header.dataStart;
  const buffer = new SharedArrayBuffer(dataSize);
  readFileRange(path, header.dataStart, dataSize, new Uint8Array(buffer));
  const entries = new Map(
    [...header.tensors.values()].map((t) => [
      t.name,
      { byteOffset: t.begin, dtype: t.dtype, shape: t.shape },
    ]),
  );
  const views: TensorViews = { buffer, entries, file: path };
  return { model: assembleModel(config, views), views, layout };
}
