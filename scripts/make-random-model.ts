/**
 * Writes a Hugging Face hgrn_bit checkpoint with random latent weights and the exact shapes of a
 * published model (default MMfreeLM-370M), for benchmarks and conversion checks. Not committed:
 * run `npx tsx scripts/make-random-model.ts OUT_DIR [--size 370M|1.3B|2.7B] [--dtype F32|F16]`.
 */
import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { floatToHalf } from "../src/engine/float16.js";

const SIZES = {
  "370M": { hidden_size: 1024, num_hidden_layers: 24 },
  "1.3B": { hidden_size: 2048, num_hidden_layers: 24 },
  "2.7B": { hidden_size: 2560, num_hidden_layers: 32 },
} as const;

const args = process.argv.slice(2);
const outDir = args.find((a) => !a.startsWith("--") && args[args.indexOf(a) - 1]?.startsWith("--") !== true);
const flag = (name: string, fallback: string) => {
  const k = args.indexOf(`--${name}`);
  return k >= 0 ? args[k + 1] : fallback;
};
if (!outDir) {
  console.error("usage: make-random-model.ts OUT_DIR [--size 370M|1.3B|2.7B] [--dtype F32|F16]");
  process.exit(2);
}
const size = flag("size", "370M") as keyof typeof SIZES;
const dtype = flag("dtype", "F32") as "F32" | "F16";
const { hidden_size: d, num_hidden_layers: L } = SIZES[size];
const V = 32000;
const I = 256 * Math.ceil(Math.trunc((d * 4 * 2) / 3) / 256);

const config = {
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
  bos_token_id: 1,
  eos_token_id: 2,
  max_position_embeddings: 2048,
};

// Tensor list in the HF naming of MODEL.md; init: latent N(0, 0.02) like the paper, gains near 1.
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

let seed = 0x9e3779b9;
function uniform(): number {
  // xorshift32: fast, and quality is irrelevant for benchmark weights.
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}
function normal(): number {
  return Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

const itemBytes = dtype === "F32" ? 4 : 2;
const header: Record<string, unknown> = { __metadata__: { format: "pt", generator: "trine scripts/make-random-model.ts" } };
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
writeSync(fd, length);
writeSync(fd, json);
for (const t of tensors) {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const chunk = 1 << 20;
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const values = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      values[k] = t.init === "normal" ? 0.02 * normal() : t.init === "gain" ? 1 + 0.1 * normal() : normal();
    }
    if (dtype === "F32") writeSync(fd, new Uint8Array(values.buffer));
    else writeSync(fd, new Uint8Array(Uint16Array.from(values, floatToHalf).buffer));
  }
}
closeSync(fd);
writeFileSync(join(outDir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
writeFileSync(join(outDir, "generation_config.json"), `${JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }, null, 2)}\n`);
copyFileSync(
  join(import.meta.dirname, "..", "test", "fixtures", "tokenizers", "llama-32000", "tokenizer.json"),
  join(outDir, "tokenizer.json"),
);
console.log(`wrote ${outDir}: ${size} shapes (d=${d}, L=${L}, I=${I}, V=${V}), ${dtype}, ${(offset / 1e9).toFixed(2)} GB`);
