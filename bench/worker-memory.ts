/**
 * Resident memory of a serving Trine process, with 1, 2 and 4 generation workers, at the
 * MMfreeLM-370M shapes (random packed weights) with each of two tokenizers: the Llama
 * 32,000-token one (test/fixtures/tokenizers/llama-32000) and the shipped storyteller model's
 * 8,192-token byte-level one. Issue 16 item 6 sets the targets: at most the weights + 120 MB with
 * one worker, at most 20 MB for each worker more (MB = 10^6 bytes, as the issue counts them).
 *
 *   npm run bench:memory [-- --json] [-- --repeats 5]                # built first: as shipped
 *   npx tsx bench/worker-memory.ts [--workers 1,2] [--tokenizers llama]  # from source
 *
 * From source every worker thread also starts tsx's module loader (~30 MB each, and ~50 MB more
 * in the main thread), so only the compiled run measures the server as it is shipped.
 *
 * Each count runs in a fresh process that builds the app as `trine serve` does (buildApp, then
 * the scheduler's start; state store in memory) and sends the same four concurrent 32-token
 * completions whatever the count (the pool spreads them, so every worker has read all the
 * weights and run a batch, while the main thread's share of the load, which would otherwise
 * count as the workers', stays the same). It reads /proc/self/status right after them (busy),
 * after the process has idled (resting: the figure the targets are about), and after one prompt
 * long enough to be tokenized off the main thread (that thread then lives until it has idled for
 * a minute). Each figure is the median of --repeats runs. Linux only. The models are written once
 * under .work/worker-memory/.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pino from "pino";
import { REPO_ROOT } from "../loadtest/server.js";
import { buildApp } from "../src/server/app.js";
import { resolveServerConfig } from "../src/server/config.js";
import { writeRandomPackedModel } from "./random-packed-model.js";

/** The targets of issue 16 item 6. */
const OVERHEAD_TARGET_BYTES = 120e6;
const PER_WORKER_TARGET_BYTES = 20e6;

const TOKENIZERS = {
  llama: {
    tokenizerDir: join(REPO_ROOT, "test", "fixtures", "tokenizers", "llama-32000"),
    vocabSize: 32000,
    bosTokenId: 1,
    eosTokenId: 2,
  },
  storyteller: {
    tokenizerDir: join(REPO_ROOT, "models", "storyteller"),
    vocabSize: 8192,
    bosTokenId: 0,
    eosTokenId: 1,
  },
} as const;
type TokenizerName = keyof typeof TOKENIZERS;

/** Concurrent completions, whatever the worker count: one each at 4 workers, all 4 in one. */
const STREAMS = 4;
const TOKENS_PER_STREAM = 32;
/** How long the process idles after the completions before its resting size is read... */
const RESTING_WAIT_MS = 10_000;
/** ...and after the main thread's last collection (read at once, it varied by 30 MB). */
const UNMAP_WAIT_MS = 2_000;
/** Above the prompt tokenizer's OFF_THREAD_MIN_CHARS, so it goes to the tokenizer thread. */
const LONG_PROMPT = "Once upon a time a rabbit lived under a tree. ".repeat(120);

interface Measurement {
  workers: number;
  kernel: string;
  weightBytes: number;
  /** Resident bytes of the process after its imports, before the model loads... */
  startBytes: number;
  /** ...right after the completions (garbage collected on the main thread only)... */
  busyBytes: number;
  /** ...once every thread's heap has settled after them: the figure the targets are about... */
  restingBytes: number;
  /** ...and after the long prompt too, while the tokenizer thread it started is alive. */
  longPromptBytes: number;
}

/** Kilobyte fields of /proc/self/status, in bytes. */
function procStatus(field: string): number {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : Number.NaN;
}

/** The 370M shapes with random packed weights and the named tokenizer, written once. */
function modelDir(name: TokenizerName): string {
  const { tokenizerDir, ...ids } = TOKENIZERS[name];
  const dir = join(REPO_ROOT, ".work", "worker-memory", `370m-${name}`);
  if (!existsSync(join(dir, "model.trine.safetensors"))) {
    console.error(`writing a random packed 370M model with the ${name} tokenizer to ${dir} ...`);
    writeRandomPackedModel(dir, {
      hiddenSize: 1024,
      numLayers: 24,
      ...ids,
      tokenizerJson: join(tokenizerDir, "tokenizer.json"),
    });
    const config = join(tokenizerDir, "tokenizer_config.json");
    if (existsSync(config)) copyFileSync(config, join(dir, "tokenizer_config.json"));
  }
  return dir;
}

async function measure(dir: string, workers: number, kernel: string): Promise<Measurement> {
  const config = resolveServerConfig(
    { model: dir, workers: String(workers), kernel, stateStore: "memory", port: "0" },
    {},
  );
  const app = buildApp({ config, logger: pino({ level: "silent" }) });
  const resident = () => {
    globalThis.gc?.();
    return procStatus("VmRSS");
  };
  const startBytes = resident();
  await app.trine.scheduler.start();
  const complete = async (prompt: string, seed: number) => {
    const response = await app.inject({
      method: "POST",
      url: "/v1/completions",
      payload: { model: config.modelName, prompt, max_tokens: TOKENS_PER_STREAM, temperature: 1, seed },
    });
    if (response.statusCode !== 200) throw new Error(`completion: ${response.statusCode} ${response.body}`);
  };
  await Promise.all(
    Array.from({ length: STREAMS }, (_, i) => complete(`Stream ${i} reads every weight once`, i)),
  );
  const busyBytes = resident();
  const restingBytes = await restingResidentBytes();
  await complete(LONG_PROMPT, 0);
  const longPromptBytes = resident();
  const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
  const measurement = {
    workers,
    kernel: app.trine.scheduler.workerPool!.kernel,
    weightBytes: Number(/^trine_model_weight_bytes(?:\{[^}]*\})? (\d+)$/m.exec(metrics)?.[1]),
    startBytes,
    busyBytes,
    restingBytes,
    longPromptBytes,
  };
  await app.close();
  return measurement;
}

/**
 * The resident size once the burst of work is over. After one, each V8 heap keeps the space it
 * grew into (the main thread's young generation at its largest, half-empty pages) until its
 * memory reducer, some seconds later with nothing to do, gives it back. The wait lets the
 * workers' heaps settle; the main thread's then gets the collection that compacts and shrinks
 * (what its reducer would do), so the figure does not depend on when that happens to run.
 */
async function restingResidentBytes(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, RESTING_WAIT_MS));
  (globalThis.gc as ((options: object) => void) | undefined)?.({
    type: "major",
    execution: "sync",
    flavor: "last-resort",
  });
  // V8 unmaps the pages the collection freed on a background thread: read once it has.
  await new Promise((resolve) => setTimeout(resolve, UNMAP_WAIT_MS));
  return procStatus("VmRSS");
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

const { values } = parseArgs({
  options: {
    kernel: { type: "string", default: "auto" },
    workers: { type: "string", default: "1,2,4" },
    tokenizers: { type: "string", default: "llama,storyteller" },
    repeats: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
    child: { type: "string" },
    model: { type: "string" },
  },
});

if (values.child) {
  // One measurement, in a process of its own.
  process.stdout.write(JSON.stringify(await measure(values.model!, Number(values.child), values.kernel!)));
} else {
  const script = fileURLToPath(import.meta.url);
  const counts = values.workers!.split(",").map(Number);
  if (counts[0] !== 1) throw new Error("--workers must start with 1: the extra workers are counted from it");
  const repeats = Number(values.repeats);
  const child = (dir: string, workers: number): Measurement =>
    JSON.parse(
      execFileSync(
        process.execPath,
        [
          ...process.execArgv,
          // As `npm start` and the container start the server.
          "--max-semi-space-size=2",
          "--expose-gc",
          script,
          "--child",
          String(workers),
          "--model",
          dir,
          "--kernel",
          values.kernel!,
        ],
        { encoding: "utf8" },
      ),
    );
  const report = [];
  if (import.meta.url.endsWith(".ts") && !values.json)
    console.log(
      "from source: each thread carries tsx's loader; `npm run bench:memory` measures the built server",
    );
  if (!values.json)
    console.log(
      "tokenizer    weights   workers  before load  busy       resting    over weights  per extra worker  long prompt",
    );
  for (const name of values.tokenizers!.split(",") as TokenizerName[]) {
    if (!(name in TOKENIZERS)) throw new Error(`unknown tokenizer ${name}: llama or storyteller`);
    const dir = modelDir(name);
    // Each count `repeats` times, interleaved, and the median of each figure: a process's
    // resident size moves by a few MB from run to run with when its threads collect garbage.
    const runs = counts.map(() => [] as Measurement[]);
    for (let round = 0; round < repeats; round++)
      for (const [i, workers] of counts.entries()) runs[i].push(child(dir, workers));
    const results = runs.map((measured) => ({
      ...medianMeasurement(measured),
      restingRuns: measured.map((m) => m.restingBytes),
    }));
    const [one] = results;
    const rows = results.map((r) => ({
      ...r,
      overWeightsBytes: r.restingBytes - r.weightBytes,
      perExtraWorkerBytes: r.workers > 1 ? (r.restingBytes - one.restingBytes) / (r.workers - 1) : null,
    }));
    report.push({
      tokenizer: name,
      kernel: one.kernel,
      weightBytes: one.weightBytes,
      rows,
      meetsOverheadTarget: rows[0].overWeightsBytes <= OVERHEAD_TARGET_BYTES,
      meetsPerWorkerTarget: rows.every((r) => (r.perExtraWorkerBytes ?? 0) <= PER_WORKER_TARGET_BYTES),
    });
    if (values.json) continue;
    for (const r of rows) {
      console.log(
        `${name.padEnd(12)} ${mb(r.weightBytes).padEnd(9)} ${String(r.workers).padEnd(8)} ` +
          `${mb(r.startBytes).padEnd(12)} ${mb(r.busyBytes).padEnd(10)} ${mb(r.restingBytes).padEnd(10)} ` +
          `${mb(r.overWeightsBytes).padEnd(13)} ${(r.perExtraWorkerBytes === null ? "" : mb(r.perExtraWorkerBytes)).padEnd(17)} ` +
          `+${mb(r.longPromptBytes - r.restingBytes)}`,
      );
    }
  }
  const targets = { overWeightsBytes: OVERHEAD_TARGET_BYTES, perExtraWorkerBytes: PER_WORKER_TARGET_BYTES };
  if (values.json) console.log(JSON.stringify({ targets, repeats, report }, null, 2));
  else
    console.log(
      `targets: resting <= weights + ${mb(OVERHEAD_TARGET_BYTES)} with one worker, <= ${mb(PER_WORKER_TARGET_BYTES)} per extra worker; ` +
        `medians of ${repeats} runs; long prompt: what the tokenizer thread it starts adds until it idles out`,
    );
}

function medianMeasurement(measured: readonly Measurement[]): Measurement {
  const median = (pick: (m: Measurement) => number) => {
    const sorted = measured.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  return {
    ...measured[0],
    startBytes: median((m) => m.startBytes),
    busyBytes: median((m) => m.busyBytes),
    restingBytes: median((m) => m.restingBytes),
    longPromptBytes: median((m) => m.longPromptBytes),
  };
}
