import { ModelFileError } from "../engine/errors.js";
import { bfloat16ToFloat, floatToHalf, halfToFloat } from "../engine/float16.js";
import { readTensorBytes, type SafetensorsHeader, type TensorInfo } from "./safetensors.js";

/** Reads a floating-point tensor of any stored precision as float32. */
export function readFloatTensor(header: SafetensorsHeader, tensor: TensorInfo): Float32Array {
  const bytes = readTensorBytes(header, tensor);
  return toFloat32(bytes, tensor.dtype, header.path, tensor.name);
}

export function toFloat32(bytes: Uint8Array, dtype: string, file: string, name: string): Float32Array {
  switch (dtype) {
    case "F32":
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case "F16":
    case "BF16": {
      const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
      const out = new Float32Array(halves.length);
      const convert = dtype === "F16" ? halfToFloat : bfloat16ToFloat;
      for (let k = 0; k < halves.length; k++) out[k] = convert(halves[k]);
      return out;
    }
    default:
      throw new ModelFileError(file, `tensor "${name}" has dtype ${dtype}; expected F32, F16 or BF16`);
  }
}

/** Converts float32 values to F16 bit patterns (for the optional half-precision embedding). */
export function toFloat16Bits(values: Float32Array, out: Uint16Array): void {
  for (let k = 0; k < values.length; k++) out[k] = floatToHalf(values[k]);
}
