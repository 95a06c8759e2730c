import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { floatToHalf } from "../src/engine/float16.js";

/**
 * Writes a Hugging Face hgrn_bit checkpoint with random latent weights (N(0, 0.02), as the paper
 * initialises; norm gains near 1; random lower bounds), streaming one tensor at a time so that
 * even 2.7B shapes need little memory. For benchmarks, conversion checks and tests that need a
 * model of a given vocabulary; never committed.
 */
export interface RandomCheckpointOptions {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly dtype?: "F32" | "F16";
  /** A tokenizer.json to copy beside the weights. */
  readonly tokenizerJson?: string;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly seed?: number;
}

/** The config.json of a random checkpoint: MMfreeLM's, with the given shapes. */
export function randomCheckpointConfig(options: RandomCheckpointOptions): Record<string, unknown> {
  const { vocabSize: V, hiddenSize: d, numLayers: L } = options;
  return {
    architectures: ["HGRNBitForCausalLM"],
    model_type: "hgrn_bit",
    vocab_size: V,
    hidden_size: d,
    num_hidden_layers: L,
    num_heads: 1,
    expand_ratio: 1,
    hidden_ratio: 4,
    intermediate_size: null,
    hidden_act: "swish",
    attn_mode: "fused_recurrent",
    rms_norm_eps: 1e-6,
    use_lower_bound: true,
    use_short_conv: false,
    tie_word_embeddings: false,
    bos_token_id: options.bosTokenId ?? 1,
    eos_token_id: options.eosTokenId ?? 2,
    max_position_embeddings: 2048,
  };
}

export function writeRandomCheckpoint(outDir: string, options: RandomCheckpointOptions): { bytes: number } {
  const { vocabSize: V, hiddenSize: d, numLayers: L, dtype = "F32" } = options;
  const I = 256 * Math.ceil(Math.trunc((d * 4 * 2) / 3) / 256);
  const config = randomCheckpointConfig(options);
  const tensors: { name: string; shape: number[]; init: "normal" | "gain" | "bounds" }[] = [
    { name: "model.embeddings.weight", shape: [V, d], init: "normal" },
    { name: "model.lower_bounds", shape: [L, d], init: "bounds" },
  ];
  const bitLinear = (name: string, rows: number, cols: number) => {
    tensors.push({ name: `${name}.weight`, shape: [rows, cols], init: "normal" });
    tensors.push({ name: `${name}.norm.weight`, shape: [cols], init: "gain" });
  };
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    tensors.push({ name: `${p}.attn_norm.weight`, shape: [d], init: "gain" });
    for (const proj of ["i_proj", "f_proj", "g_proj", "o_proj"]) bitLinear(`${p}.attn.${proj}`, d, d);
    tensors.push({ name: `${p}.attn.g_norm.weight`, shape: [d], init: "gain" });
    tensors.push({ name: `${p}.mlp_norm.weight`, shape: [d], init: "gain" });
    bitLinear(`${p}.mlp.gate_proj`, 2 * I, d);
    bitLinear(`${p}.mlp.down_proj`, d, I);
  }
  tensors.push({ name: "model.norm.weight", shape: [d], init: "gain" });
  bitLinear("lm_head", V, d);

  // xorshift32: fast and deterministic; statistical quality is irrelevant for random weights.
  let state = (options.seed ?? 0x9e3779b9) >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());

  const itemBytes = dtype === "F32" ? 4 : 2;
  const header: Record<string, unknown> = {
    __metadata__: { format: "pt", generator: "trine random-checkpoint" },
  };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * itemBytes;
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  mkdirSync(outDir, { recursive: true });
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(join(outDir, "model.safetensors"), "w");
  try {
    writeSync(fd, length);
    writeSync(fd, json);
    for (const t of tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const chunk = 1 << 20;
      for (let start = 0; start < n; start += chunk) {
        const count = Math.min(chunk, n - start);
        const values = new Float32Array(count);
        for (let k = 0; k < count; k++) {
          values[k] =
            t.init === "normal" ? 0.02 * normal() : t.init === "gain" ? 1 + 0.1 * normal() : normal();
        }
        writeSync(
          fd,
          new Uint8Array(dtype === "F32" ? values.buffer : Uint16Array.from(values, floatToHalf).buffer),
        );
      }
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(join(outDir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(
    join(outDir, "generation_config.json"),
    `${JSON.stringify({ bos_token_id: config.bos_token_id, eos_token_id: config.eos_token_id }, null, 2)}\n`,
  );
  if (options.tokenizerJson) copyFileSync(options.tokenizerJson, join(outDir, "tokenizer.json"));
  return { bytes: offset };
}
