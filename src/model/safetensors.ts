import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { ModelFileError } from "../engine/errors.js";

/**
 * Reading safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON describing each tensor's dtype, shape and byte range, then
 * the data. Every structural claim of the header is checked against the file before any tensor
 * is read, so a damaged file fails with a message instead of a crash or a wrong model.
 */

export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
export type Dtype = keyof typeof DTYPE_BYTES;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Offsets within the data section (after the header). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly path: string;
  readonly fileSize: number;
  /** Absolute file offset of the data section: 8 + N. */
  readonly dataStart: number;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A header larger than this is not a model header but a damaged length field. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new ModelFileError(path, `cannot open: ${(error as Error).message}`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8)
      throw new ModelFileError(path, `truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength > fileSize - 8) {
      throw new ModelFileError(
        path,
        `header length ${headerLength} runs past the end of the file (${fileSize} bytes)`,
      );
    }
    if (headerLength > MAX_HEADER_BYTES)
      throw new ModelFileError(path, `header length ${headerLength} is implausibly large`);
    const headerBytes = Buffer.alloc(headerLength);
    readSync(fd, headerBytes, 0, headerLength, 8);
    let parsed: unknown;
    try {
      parsed = JSON.parse(headerBytes.toString("utf8"));
    } catch (error) {
      throw new ModelFileError(path, `header is not valid JSON (${(error as Error).message})`);
    }
    const dataStart = 8 + headerLength;
    return { path, fileSize, dataStart, ...parseHeaderJson(path, parsed, fileSize - dataStart) };
  } finally {
    closeSync(fd);
  }
}

function parseHeaderJson(
  path: string,
  parsed: unknown,
  dataSize: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ModelFileError(path, "header must be a JSON object");
  }
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null)
      throw new ModelFileError(path, `tensor "${name}": entry is not an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) {
      throw new ModelFileError(path, `tensor "${name}": unknown dtype ${JSON.stringify(e.dtype)}`);
    }
    const dtype = e.dtype as Dtype;
    if (!Array.isArray(e.shape) || !e.shape.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new ModelFileError(
        path,
        `tensor "${name}": shape ${JSON.stringify(e.shape)} is not a list of sizes`,
      );
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0)
    ) {
      throw new ModelFileError(
        path,
        `tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not [begin, end]`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end)
      throw new ModelFileError(path, `tensor "${name}": data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataSize) {
      throw new ModelFileError(
        path,
        `tensor "${name}": data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes; file truncated?)`,
      );
    }
    const expected = numel(e.shape as number[]) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new ModelFileError(
        path,
        `tensor "${name}": ${end - begin} bytes stored but shape ${JSON.stringify(e.shape)} of ${dtype} needs ${expected}`,
      );
    }
    tensors.set(name, { name, dtype, shape: e.shape as number[], begin, end });
  }
  const byBegin = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let k = 1; k < byBegin.length; k++) {
    if (byBegin[k].begin < byBegin[k - 1].end) {
      throw new ModelFileError(path, `tensors "${byBegin[k - 1].name}" and "${byBegin[k].name}" overlap`);
    }
  }
  return { tensors, metadata };
}

/** Reads a tensor's bytes into `target` (or a fresh buffer), in chunks straight from the file. */
export function readTensorBytes(
  header: SafetensorsHeader,
  tensor: TensorInfo,
  target?: Uint8Array,
): Uint8Array {
  const length = tensor.end - tensor.begin;
  const out = target ?? new Uint8Array(length);
  if (out.length < length) throw new RangeError("target too small");
  readFileRange(header.path, header.dataStart + tensor.begin, length, out);
  return out;
}

const READ_CHUNK = 16 * 1024 * 1024;

export function readFileRange(path: string, position: number, length: number, target: Uint8Array): void {
  const fd = openSync(path, "r");
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, target, done, Math.min(READ_CHUNK, length - done), position + done);
      if (n === 0) throw new ModelFileError(path, `truncated: ended ${length - done} bytes early`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}
