/**
 * `npm run bench`: end-to-end engine throughput on random-weight models with the exact shapes of
 * MMfreeLM-370M, -1.3B and -2.7B (32000 vocab), written into .work/ on first use (not committed;
 * bench/random-packed-model.ts). Every figure is a median over interleaved rounds (this machine is
 * shared, so a burst of other work lands on every variant alike), and every ratio is taken within
 * a round. Per round:
 *
 * - roofline: tokens/s if the packed weights streamed once per token (bench/roofline.ts);
 * - for each engine variant: decode at B = 1, 16 and 64 sequences and prefill of a 256-token
 *   prompt, one thread; variants: `current` (this checkout), `baseline` (with --baseline=DIR:
 *   another checkout of Trine, its addon built, e.g. `git archive <commit> | tar -x -C DIR`; run with
 *   `npx tsx`, since its TypeScript sources are imported as they are) and,
 *   with --step-by-step, this checkout's kernel driven one step at a time by forward()'s JS loop
 *   (the one-call native forward left out);
 * - prefill and B = 1 decode of `current` with two native threads;
 * then the time per decode step by part at B = 1 and 16.
 *
 *   npm run bench                                 # 370M, 1.3B and 2.7B shapes, 5 rounds
 *   npm run bench -- --quick                      # 370M only, 3 rounds
 *   npx tsx bench/end-to-end.ts --models=1.3B --rounds=7 --baseline=.work/base --json
 *
 * Rates are recorded in wall-clock and CPU time (decode-rounds.ts startTimer); on a shared machine
 * read the CPU-time ones.
 */
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { EngineKernel } from "../src/engine/kernels/kernel.js";
import { setNativeThreads } from "../src/engine/kernels/native.js";
import { selectKernel } from "../src/engine/kernels/select.js";
import type { Model } from "../src/engine/model.js";
import { loadModelWeights } from "../src/model/model-dir.js";
import { currentEngine, decodeSeconds, type Elapsed, type Engine, prefillSeconds } from "./decode-rounds.js";
import { MMFREELM_SHAPES, type MmfreelmSize, randomMmfreelmModel } from "./mmfreelm-model.js";
import { median, timeWeightReadsElapsed, weightSpans } from "./roofline.js";
import { measureTimeBreakdown } from "./time-breakdown.js";

function option(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const quick = process.argv.includes("--quick");
const json = process.argv.includes("--json");
const rounds = Number(option("rounds") ?? (quick ? 3 : 5));
const sizes = (option("models")?.split(",") ??
  (quick ? ["370M"] : Object.keys(MMFREELM_SHAPES))) as MmfreelmSize[];
const log = (line: string) => {
  if (!json) console.log(line);
};

/** Tokens per second of each measurement, by name, one entry per round. */
type Series = Record<string, number[]>;

function record(series: Series, name: string, value: number): void {
  if (!series[name]) series[name] = [];
  series[name].push(value);
}

/** One engine as measured: its functions, its kernel and the model it runs. */
interface Variant {
  readonly engine: Engine;
  readonly kernel: EngineKernel;
  readonly model: Model;
  readonly setThreads: (threads: number) => void;
}

/** Records a measurement of `units` tokens in both clocks: `name` (wall) and `name (cpu)`. */
function recordRate(series: Series, name: string, units: number, elapsed: Elapsed): void {
  record(series, name, units / elapsed.wall);
  record(series, `${name} (cpu)`, units / elapsed.cpu);
}

function runRound(variants: Record<string, Variant>, spans: Uint8Array[], round: number, series: Series) {
  const { config } = variants.current.model;
  // Fewer steps on larger models so that a round stays a few seconds.
  const scale = config.numLayers * config.hiddenSize > 24 * 1024 ? 0.5 : 1;
  const steps = {
    1: Math.round(64 * scale),
    16: Math.round(16 * scale),
    64: Math.max(3, Math.round(6 * scale)),
  };
  const roofline = (name: string) => {
    const reads = timeWeightReadsElapsed(spans, 3);
    const mid = (values: number[]) => median(values);
    recordRate(series, name, 1, { wall: mid(reads.map((r) => r.wall)), cpu: mid(reads.map((r) => r.cpu)) });
  };
  roofline("roofline");
  const names = Object.keys(variants);
  // Rotate the order so no variant always runs first.
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + round) % names.length];
    const { engine, kernel, model } = variants[name];
    for (const batch of [1, 16, 64] as const) {
      recordRate(
        series,
        `${name} B=${batch}`,
        batch * steps[batch],
        decodeSeconds(engine, model, kernel, batch, steps[batch]),
      );
    }
    recordRate(series, `${name} prefill`, 256, prefillSeconds(engine, model, kernel, 256));
  }
  const current = variants.current;
  if (current.kernel.name.startsWith("native")) {
    current.setThreads(2);
    // Two threads: CPU time counts both, so only the wall clock means anything here.
    roofline("roofline 2T");
    recordRate(
      series,
      "current B=1 2T",
      steps[1],
      decodeSeconds(current.engine, current.model, current.kernel, 1, steps[1]),
    );
    recordRate(
      series,
      "current prefill 2T",
      256,
      prefillSeconds(current.engine, current.model, current.kernel, 256),
    );
    current.setThreads(1);
  }
}

/**
 * Runs `body` with performance.now() reading this process's CPU time, so that the time-per-step
 * breakdowns (ours and the baseline's own, which time themselves with performance.now) leave out
 * the time the OS gives the core to other work, like the rounds' CPU-time figures.
 */
function onCpuClock<T>(body: () => T): T {
  const wallClock = performance.now;
  performance.now = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
  try {
    return body();
  } finally {
    performance.now = wallClock;
  }
}

function ratios(series: Series, a: string, b: string): number[] {
  if (!series[a] || !series[b]) return [];
  return series[a].map((v, k) => v / series[b][k]);
}

const kernel = await selectKernel("auto", log);
const baselineDir = option("baseline");
/** The baseline checkout's engine, imported from its own sources (and its own native addon). */
const baseline = baselineDir
  ? {
      engine: {
        ...(await import(join(process.cwd(), baselineDir, "src/engine/forward.js"))),
        ...(await import(join(process.cwd(), baselineDir, "src/engine/prefill.js"))),
        ...(await import(join(process.cwd(), baselineDir, "src/engine/state.js"))),
        ...(await import(join(process.cwd(), baselineDir, "src/engine/workspace.js"))),
      } as Engine,
      kernel: (await (
        await import(join(process.cwd(), baselineDir, "src/engine/kernels/select.js"))
      ).selectKernel("auto")) as EngineKernel,
      setThreads: (await import(join(process.cwd(), baselineDir, "src/engine/kernels/native.js")))
        .setNativeThreads as (threads: number) => void,
      // The baseline's own breakdown, where it has one: its parts run through its own functions.
      breakdown: existsSync(join(process.cwd(), baselineDir, "bench/time-breakdown.ts"))
        ? ((await import(join(process.cwd(), baselineDir, "bench/time-breakdown.ts")))
            .measureTimeBreakdown as (
            model: Model,
            kernel: EngineKernel,
            batch: number,
          ) => Record<string, number>)
        : undefined,
    }
  : undefined;
log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, ${rounds} interleaved rounds`);
if (baselineDir) log(`baseline: ${baselineDir} (${baseline?.kernel.name})`);
const report: Record<string, unknown> = {};
for (const size of sizes) {
  const dir = randomMmfreelmModel(size, log);
  const { model, layout } = loadModelWeights(dir);
  const variants: Record<string, Variant> = {
    current: { engine: currentEngine, kernel, model, setThreads: setNativeThreads },
  };
  // The baseline reads the very same weight arrays (the model is plain data, the same in both):
  // two copies of a 2.7B model read at different speeds when only one is backed by huge pages.
  const baselineModel = baseline ? model : undefined;
  if (baseline && baselineModel) variants.baseline = { ...baseline, model: baselineModel };
  if (process.argv.includes("--step-by-step")) {
    const stepByStep = { ...kernel, name: `${kernel.name} step-by-step`, forwardLayers: undefined };
    variants["step-by-step"] = {
      engine: currentEngine,
      kernel: stepByStep,
      model,
      setThreads: setNativeThreads,
    };
  }
  const spans = weightSpans(model);
  const streamMiB = spans.reduce((t, s) => t + s.byteLength, 0) / 2 ** 20;
  log(
    `\n== MMfreeLM-${size} shapes, random weights, ${(layout.totalBytes / 2 ** 20).toFixed(0)} MiB packed, ` +
      `${streamMiB.toFixed(0)} MiB of ternary codes streamed per step ==`,
  );
  const series: Series = {};
  for (let round = 0; round < rounds; round++) runRound(variants, spans, round, series);
  const derived: Series = {};
  const pairs: [string, string, string][] = [
    ["current B=1 / roofline", "current B=1", "roofline"],
    ["baseline B=1 / roofline", "baseline B=1", "roofline"],
    ["current B=16 / current B=1", "current B=16", "current B=1"],
    ["current B=64 / current B=1", "current B=64", "current B=1"],
    ["baseline B=16 / baseline B=1", "baseline B=16", "baseline B=1"],
    ["baseline B=64 / baseline B=1", "baseline B=64", "baseline B=1"],
    ["current / baseline, B=1", "current B=1", "baseline B=1"],
    ["current / baseline, B=16", "current B=16", "baseline B=16"],
    ["current / baseline, B=64", "current B=64", "baseline B=64"],
    ["current / baseline, prefill", "current prefill", "baseline prefill"],
    ["current / step-by-step, B=1", "current B=1", "step-by-step B=1"],
    ["current / step-by-step, B=16", "current B=16", "step-by-step B=16"],
  ];
  for (const [label, a, b] of pairs) {
    derived[label] = ratios(series, a, b);
    derived[`${label} (cpu)`] = ratios(series, `${a} (cpu)`, `${b} (cpu)`);
  }
  derived["current B=1 2T / roofline 2T"] = ratios(series, "current B=1 2T", "roofline 2T");
  derived["current prefill 2T / current prefill"] = ratios(series, "current prefill 2T", "current prefill");
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
    const parts = onCpuClock(() => measureTimeBreakdown(model, kernel, batch));
    const whole = Object.fromEntries(
      Object.entries(variants).map(([name, v]) => [
        `${name}_whole_step_ms`,
        (decodeSeconds(v.engine, v.model, v.kernel, batch, 8).cpu / 8) * 1000,
      ]),
    );
    const baselineParts =
      baseline?.breakdown && baselineModel
        ? onCpuClock(() => baseline.breakdown?.(baselineModel, baseline.kernel, batch) ?? {})
        : {};
    const before = Object.fromEntries(
      Object.entries(baselineParts).map(([part, ms]) => [`baseline ${part}`, ms]),
    );
    breakdown[`B=${batch}`] = { ...parts, ...before, ...whole };
    log(`  time per decode step by part, B=${batch}, 1 thread (ms of CPU time):`);
    for (const [part, ms] of Object.entries({ ...parts, ...before, ...whole }))
      log(`    ${part.padEnd(40)} ${ms.toFixed(3)}`);
  }
  report[size] = { medians, series, breakdown };
}
if (json) console.log(JSON.stringify(report));
