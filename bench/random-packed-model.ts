import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseModelConfig } from "../src/engine/config.js";
import { floatToHalf } from "../src/engine/float16.js";
import { planPackedLayout } from "../src/model/packed-layout.js";
import { PACKED_FILE, writePackedModel } from "../src/model/packed-model.js";
import { type RandomCheckpointOptions, randomCheckpointConfig } from "./random-checkpoint.js";

/**
 * Writes a packed Trine model directory with random ternary weights straight away, without the
 * latent float checkpoint and its conversion (minutes and gigabytes at 1.3B and 2.7B shapes): for
 * benchmarks, whose speed depends on the shapes, not on the values. Codes are uniform over
 * {-1, 0, +1}; norm gains near 1; the embedding F16.
 */
export function writeRandomPackedModel(outDir: string, options: RandomCheckpointOptions): { bytes: number } {
  const configJson = randomCheckpointConfig(options);
  const config = parseModelConfig(configJson);
  const layout = planPackedLayout(config, "F16");
  const buffer = new ArrayBuffer(layout.totalBytes);
  let state = (options.seed ?? 0x9e3779b9) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  // Bytes whose four 2-bit fields are each 0, 1 or 2 (never the unused code 3).
  const validBytes = Uint8Array.from({ length: 81 }, (_, k) => {
    const t = [k % 3, Math.floor(k / 3) % 3, Math.floor(k / 9) % 3, Math.floor(k / 27) % 3];
    return t[0] | (t[1] << 2) | (t[2] << 4) | (t[3] << 6);
  });
  for (const t of layout.tensors) {
    if (t.dtype === "U8") {
      const bytes = new Uint8Array(buffer, t.byteOffset, t.byteLength);
      for (let k = 0; k < bytes.length; k++) bytes[k] = validBytes[next() % 81];
    } else if (t.dtype === "F32") {
      const values = new Float32Array(buffer, t.byteOffset, t.byteLength / 4);
      const isScale = t.name.endsWith(".weight_scale");
      const isBounds = t.name === "model.lower_bounds";
      for (let k = 0; k < values.length; k++) {
        const u = next() / 2 ** 32 - 0.5;
        values[k] = isScale ? 0.016 : isBounds ? 2 * u : 1 + 0.2 * u;
      }
    } else {
      const values = new Uint16Array(buffer, t.byteOffset, t.byteLength / 2);
      for (let k = 0; k < values.length; k++) values[k] = floatToHalf(0.04 * (next() / 2 ** 32 - 0.5));
    }
  }
  mkdirSync(outDir, { recursive: true });
  const entries = new Map(
    layout.tensors.map((t) => [t.name, { byteOffset: t.byteOffset, dtype: t.dtype, shape: t.shape }]),
  );
  writePackedModel(join(outDir, PACKED_FILE), { views: { buffer, entries, file: outDir }, layout } as never, {
    source: "random",
  });
  writeFileSync(join(outDir, "config.json"), `${JSON.stringify(configJson, null, 2)}\n`);
  if (options.tokenizerJson) copyFileSync(options.tokenizerJson, join(outDir, "tokenizer.json"));
  return { bytes: layout.totalBytes };
}
