/**
 * `npm run bench`: end-to-end engine throughput on random-weight models with the exact shapes of
 * MMfreeLM-370M and -1.3B (32000 vocab), generated and converted into .work/ on first use (not
 * committed). Measures, in one run: single-stream decode of 128 tokens after a 64-token prompt
 * (one and two kernel threads), 16 sequences decoded together in one worker, prefill, the
 * reference kernel as the baseline, and the time per decode step by part.
 *
 *   npm run bench                 # 370M and 1.3B shapes
 *   npm run bench -- --quick      # 370M only, fewer tokens
 */
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import { setNativeThreads } from "../src/engine/kernels/native.js";
import { referenceKernel } from "../src/engine/kernels/reference.js";
import { selectKernel } from "../src/engine/kernels/select.js";
import { convertModel } from "../src/model/convert.js";
import { loadModelWeights } from "../src/model/model-dir.js";
import { writeRandomCheckpoint } from "./random-checkpoint.js";
import { measureThroughput, type ThroughputResult } from "./throughput.js";
import { measureTimeBreakdown } from "./time-breakdown.js";

const ROOT = join(import.meta.dirname, "..", "..");
const WORK = join(ROOT, ".work");
const quick = process.argv.includes("--quick");
const SHAPES = {
  "370M": { hiddenSize: 1024, numLayers: 24 },
  "1.3B": { hiddenSize: 2048, numLayers: 24 },
} as const;

function packedModel(size: keyof typeof SHAPES): string {
  const packed = join(WORK, `random-${size.toLowerCase()}-packed`);
  if (existsSync(join(packed, "model.trine.safetensors"))) return packed;
  const hf = join(WORK, `random-${size.toLowerCase()}`);
  if (!existsSync(join(hf, "model.safetensors"))) {
    console.log(`writing random ${size} checkpoint to ${hf} ...`);
    writeRandomCheckpoint(hf, {
      ...SHAPES[size],
      vocabSize: 32000,
      tokenizerJson: join(ROOT, "test", "fixtures", "tokenizers", "llama-32000", "tokenizer.json"),
    });
  }
  console.log(`converting to ${packed} ...`);
  convertModel(hf, packed);
  return packed;
}

function row(label: string, r: ThroughputResult, baseline?: number): string {
  const ratio = baseline ? `  (${(r.decode_tokens_per_s / baseline).toFixed(1)}x reference)` : "";
  return `${label.padEnd(44)} prefill ${r.prefill_tokens_per_s.toFixed(0).padStart(6)} tok/s   decode ${r.decode_tokens_per_s.toFixed(1).padStart(7)} tok/s  ${r.decode_ms_per_step.toFixed(2).padStart(7)} ms/step${ratio}`;
}

const kernel: EngineKernel = await selectKernel("auto", (m) => console.log(m));
console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}`);
for (const size of quick ? (["370M"] as const) : (["370M", "1.3B"] as const)) {
  const { model, layout } = loadModelWeights(packedModel(size));
  console.log(
    `\n== MMfreeLM-${size} shapes, random weights, ${(layout.totalBytes / 2 ** 20).toFixed(0)} MiB packed ==`,
  );
  const gen = quick ? 32 : 128;
  const reference = measureThroughput(model, referenceKernel, { batch: 1, promptTokens: 8, genTokens: 2 });
  console.log(row("reference kernel, B=1 (baseline)", reference));
  setNativeThreads(1);
  const single = measureThroughput(model, kernel, { batch: 1, promptTokens: 64, genTokens: gen });
  console.log(row(`${kernel.name}, 1 thread, B=1, 64+${gen}`, single, reference.decode_tokens_per_s));
  if (kernel.name.startsWith("native")) {
    setNativeThreads(2);
    const two = measureThroughput(model, kernel, { batch: 1, promptTokens: 64, genTokens: gen });
    console.log(row(`${kernel.name}, 2 threads, B=1, 64+${gen}`, two, reference.decode_tokens_per_s));
    setNativeThreads(1);
  }
  const batched = measureThroughput(model, kernel, {
    batch: 16,
    promptTokens: 64,
    genTokens: quick ? 16 : 64,
  });
  console.log(row(`${kernel.name}, 1 thread, B=16 (one worker)`, batched, reference.decode_tokens_per_s));
  const parts = measureTimeBreakdown(model, kernel, 1);
  console.log("time per decode step by part, B=1, 1 thread (ms):");
  for (const [part, ms] of Object.entries(parts)) console.log(`  ${part.padEnd(28)} ${ms.toFixed(3)}`);
  console.log(`  measured whole step         ${single.decode_ms_per_step.toFixed(3)}`);
}
