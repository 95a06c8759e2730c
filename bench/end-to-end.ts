/**
 * `npm run bench`: end-to-end engine throughput on random-weight models with the exact shapes of
 * MMfreeLM-370M, -1.3B and -2.7B (32000 vocab), written into .work/ on first use (not committed;
 * bench/random-packed-model.ts). Every figure is a median over interleaved rounds (this machine is shared, so a
 * burst of other work lands on all variants alike), and every ratio is taken within a round:
 *
 * - roofline: tokens/s if the packed weights streamed once per token (bench/roofline.ts);
 * - `fused`: the kernel the engine picks (native: one call per forward pass);
 * - `step-by-step`, the baseline: the same kernel driven one step at a time by forward()'s JS loop,
 *   as every forward pass ran before the one-call path;
 * - decode at B = 1, 16 and 64 sequences, prefill of one prompt, one thread; then prefill and
 *   B = 1 decode with two native threads; then the time per decode step by part at B = 1 and 16.
 *
 *   npm run bench                             # 370M, 1.3B and 2.7B shapes, 5 rounds
 *   npm run bench -- --quick                  # 370M only, 3 rounds
 *   npm run bench -- --models=1.3B --rounds=7 --json
 */
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import { setNativeThreads } from "../src/engine/kernels/native.js";
import { selectKernel } from "../src/engine/kernels/select.js";
import type { Model } from "../src/engine/model.js";
import { loadModelWeights } from "../src/model/model-dir.js";
import { decodeSeconds, prefillSeconds } from "./decode-rounds.js";
import { writeRandomPackedModel } from "./random-packed-model.js";
import { median, timeWeightReads, weightSpans } from "./roofline.js";
import { measureTimeBreakdown } from "./time-breakdown.js";

// bench/ when run with tsx, dist/bench/ when compiled: the root is the first with a package.json.
const ROOT = [join(import.meta.dirname, ".."), join(import.meta.dirname, "..", "..")].find((dir) =>
  existsSync(join(dir, "package.json")),
) as string;
const WORK = join(ROOT, ".work");
const SHAPES = {
  "370M": { hiddenSize: 1024, numLayers: 24 },
  "1.3B": { hiddenSize: 2048, numLayers: 24 },
  "2.7B": { hiddenSize: 2560, numLayers: 32 },
} as const;
type Size = keyof typeof SHAPES;

function option(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const quick = process.argv.includes("--quick");
const json = process.argv.includes("--json");
const rounds = Number(option("rounds") ?? (quick ? 3 : 5));
const sizes = (option("models")?.split(",") ?? (quick ? ["370M"] : Object.keys(SHAPES))) as Size[];
const log = (line: string) => {
  if (!json) console.log(line);
};

function packedModel(size: Size): string {
  const packed = join(WORK, `random-${size.toLowerCase()}-packed`);
  if (existsSync(join(packed, "model.trine.safetensors"))) return packed;
  log(`writing a random packed ${size} model to ${packed} ...`);
  writeRandomPackedModel(packed, {
    ...SHAPES[size],
    vocabSize: 32000,
    tokenizerJson: join(ROOT, "test", "fixtures", "tokenizers", "llama-32000", "tokenizer.json"),
  });
  return packed;
}

/** Tokens per second of each measurement, by name, one entry per round. */
type Series = Record<string, number[]>;

function record(series: Series, name: string, value: number): void {
  if (!series[name]) series[name] = [];
  series[name].push(value);
}

function runRound(
  model: Model,
  variants: Record<string, EngineKernel>,
  spans: Uint8Array[],
  round: number,
  series: Series,
) {
  const layers = model.config.numLayers;
  // Fewer steps on larger models so that a round stays a few seconds.
  const scale = layers * model.config.hiddenSize > 24 * 1024 ? 0.5 : 1;
  const steps = {
    1: Math.round(64 * scale),
    16: Math.round(16 * scale),
    64: Math.max(4, Math.round(6 * scale)),
  };
  record(series, "roofline", 1 / median(timeWeightReads(spans, 3)));
  const names = Object.keys(variants);
  // Alternate the order so neither variant always runs first.
  for (const name of round % 2 ? names.reverse() : names) {
    const kernel = variants[name];
    for (const batch of [1, 16, 64] as const) {
      record(
        series,
        `${name} B=${batch}`,
        (batch * steps[batch]) / decodeSeconds(model, kernel, batch, steps[batch]),
      );
    }
    record(series, `${name} prefill`, 256 / prefillSeconds(model, kernel, 256));
  }
  if (variants.fused.name.startsWith("native")) {
    setNativeThreads(2);
    record(series, "roofline 2T", 1 / median(timeWeightReads(spans, 3)));
    record(series, "fused B=1 2T", steps[1] / decodeSeconds(model, variants.fused, 1, steps[1]));
    record(series, "fused prefill 2T", 256 / prefillSeconds(model, variants.fused, 256));
    setNativeThreads(1);
  }
}

function ratios(series: Series, a: string, b: string): number[] {
  return series[a].map((v, k) => v / series[b][k]);
}

const kernel = await selectKernel("auto", log);
const variants: Record<string, EngineKernel> = {
  "step-by-step": { ...kernel, name: `${kernel.name} step-by-step`, forwardLayers: undefined },
  fused: kernel,
};
log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, ${rounds} interleaved rounds`);
const report: Record<string, unknown> = {};
for (const size of sizes) {
  const { model, layout } = loadModelWeights(packedModel(size));
  const spans = weightSpans(model);
  const streamMiB = spans.reduce((t, s) => t + s.byteLength, 0) / 2 ** 20;
  log(
    `\n== MMfreeLM-${size} shapes, random weights, ${(layout.totalBytes / 2 ** 20).toFixed(0)} MiB packed, ` +
      `${streamMiB.toFixed(0)} MiB of ternary codes streamed per step ==`,
  );
  const series: Series = {};
  for (let round = 0; round < rounds; round++) runRound(model, variants, spans, round, series);
  const derived: Series = {
    "fused B=1 / roofline": ratios(series, "fused B=1", "roofline"),
    "step-by-step B=1 / roofline": ratios(series, "step-by-step B=1", "roofline"),
    "fused B=1 2T / roofline 2T": series["roofline 2T"] ? ratios(series, "fused B=1 2T", "roofline 2T") : [],
    "fused B=16 / fused B=1": ratios(series, "fused B=16", "fused B=1"),
    "fused B=64 / fused B=1": ratios(series, "fused B=64", "fused B=1"),
    "step-by-step B=16 / step-by-step B=1": ratios(series, "step-by-step B=16", "step-by-step B=1"),
    "fused / step-by-step, B=1": ratios(series, "fused B=1", "step-by-step B=1"),
    "fused / step-by-step, B=16": ratios(series, "fused B=16", "step-by-step B=16"),
    "fused / step-by-step, prefill": ratios(series, "fused prefill", "step-by-step prefill"),
    "fused prefill 2T / fused prefill": series["fused prefill 2T"]
      ? ratios(series, "fused prefill 2T", "fused prefill")
      : [],
  };
  const medians = Object.fromEntries(
    Object.entries({ ...series, ...derived })
      .filter(([, v]) => v.length > 0)
      .map(([k, v]) => [k, median(v)]),
  );
  for (const [name, value] of Object.entries(medians)) {
    const unit = name.includes("/") ? "x" : " tok/s";
    log(
      `  ${name.padEnd(40)} ${value.toFixed(name.includes("/") ? 3 : 1)}${unit}   [${(series[name] ?? derived[name]).map((v) => v.toFixed(name.includes("/") ? 2 : 0)).join(" ")}]`,
    );
  }
  const breakdown: Record<string, unknown> = {};
  for (const batch of [1, 16]) {
    const parts = measureTimeBreakdown(model, kernel, batch);
    const whole = Object.fromEntries(
      Object.entries(variants).map(([name, k]) => [
        `${name}_whole_step_ms`,
        (decodeSeconds(model, k, batch, 8) / 8) * 1000,
      ]),
    );
    breakdown[`B=${batch}`] = { ...parts, ...whole };
    log(`  time per decode step by part, B=${batch}, 1 thread (ms):`);
    for (const [part, ms] of Object.entries({ ...parts, ...whole }))
      log(`    ${part.padEnd(32)} ${ms.toFixed(3)}`);
  }
  report[size] = { medians, series, breakdown };
}
if (json) console.log(JSON.stringify(report));
