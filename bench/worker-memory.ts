/**
 * Resident memory of the generation workers with 1 and with 4 threads, on random models of a few
 * tens of MB: shows that the weights live once, in the main thread's SharedArrayBuffer, and that
 * a worker costs only its own scratch (a V8 isolate, its tokenizer and its forward-pass buffers).
 * Two model sizes tell the two apart: what an extra worker costs must not grow with the model.
 *
 *   node --import tsx bench/worker-memory.ts              # from source
 *   node dist/bench/worker-memory.js [--kernel reference] # built
 *
 * The random checkpoint is converted to the packed format first, so that loading it makes no
 * garbage worth speaking of. Each count then runs in a fresh process that loads the model, starts
 * the pool, runs one sequence on every worker at once (so each has read all the weights and
 * grown its buffers), collects the main thread's garbage and reads /proc/self/status. Linux only.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { KernelPreference } from "../src/engine/kernels/select.js";
import { convertModel } from "../src/model/convert.js";
import { loadModel } from "../src/model/loaded-model.js";
import { WorkerPool } from "../src/scheduler/worker-pool.js";
import { writeRandomCheckpoint } from "./random-checkpoint.js";

const WORKER_COUNTS = [1, 4];
/** d = 1024 with 8 and 24 layers: about 29 and 80 MB of packed weights and F32 embeddings. */
const MODEL_SHAPES = [
  { hiddenSize: 1024, numLayers: 8 },
  { hiddenSize: 1024, numLayers: 24 },
];
/** The byte-level test tokenizer, found above this script in both bench/ and dist/bench/. */
function testTokenizer(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, "test", "fixtures", "tokenizers", "bytelevel-1k", "tokenizer.json");
    if (existsSync(path)) return path;
  }
  throw new Error("test/fixtures/tokenizers/bytelevel-1k/tokenizer.json not found above this script");
}
const TOKENS_PER_SEQUENCE = 32;

interface Measurement {
  workers: number;
  kernel: string;
  weightBytes: number;
  rssBytes: number;
  anonymousBytes: number;
}

/** Kilobyte fields of /proc/self/status, in bytes. */
function procStatus(field: string): number {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : Number.NaN;
}

async function measure(modelDir: string, workers: number, kernel: KernelPreference): Promise<Measurement> {
  const loaded = loadModel(modelDir);
  const pool = await WorkerPool.start({
    model: loaded.model,
    modelDir,
    workers,
    maxSequences: 1,
    kernel,
    log: () => {},
  });
  // One sequence per worker (maxSequences 1 makes Piscina spread them).
  await Promise.all(
    Array.from(
      { length: workers },
      (_, i) =>
        new Promise<void>((resolve) =>
          pool.run(
            {
              spec: {
                promptIds: loaded.tokenizer.encode(`Worker ${i} reads every weight once`),
                sampling: { temperature: 1, seed: i },
                logprobs: null,
                maxTokens: TOKENS_PER_SEQUENCE,
                stopTokenIds: [],
                stopStrings: [],
                constraint: null,
                keepFinalState: false,
                prefixHints: [],
              },
              snapshotAt: [],
            },
            { token: () => {}, snapshot: () => {}, failed: () => {}, released: resolve },
          ),
        ),
    ),
  );
  globalThis.gc?.();
  const measurement = {
    workers,
    kernel: pool.kernel,
    weightBytes: loaded.weights.views.buffer.byteLength,
    rssBytes: procStatus("VmRSS"),
    anonymousBytes: procStatus("RssAnon"),
  };
  await pool.destroy();
  return measurement;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

const { values } = parseArgs({
  options: {
    kernel: { type: "string", default: "auto" },
    child: { type: "string" },
    model: { type: "string" },
  },
});
const kernel = values.kernel as KernelPreference;

if (values.child) {
  // One measurement, in a process of its own.
  process.stdout.write(JSON.stringify(await measure(values.model!, Number(values.child), kernel)));
} else {
  const script = fileURLToPath(import.meta.url);
  console.log("layers  weights   workers  RSS        anonymous  extra RSS  per extra worker");
  for (const shape of MODEL_SHAPES) {
    const scratch = mkdtempSync(join(tmpdir(), "trine-worker-memory-"));
    const checkpointDir = join(scratch, "hf");
    const modelDir = join(scratch, "packed");
    try {
      writeRandomCheckpoint(checkpointDir, {
        vocabSize: 1000,
        ...shape,
        tokenizerJson: testTokenizer(),
        bosTokenId: 0,
        eosTokenId: 1,
      });
      convertModel(checkpointDir, modelDir);
      const results = WORKER_COUNTS.map(
        (workers) =>
          JSON.parse(
            execFileSync(
              process.execPath,
              [
                ...process.execArgv,
                "--expose-gc",
                script,
                "--child",
                String(workers),
                "--model",
                modelDir,
                "--kernel",
                kernel,
              ],
              { encoding: "utf8" },
            ),
          ) as Measurement,
      );
      const [one] = results;
      for (const r of results) {
        const extra = r.rssBytes - one.rssBytes;
        console.log(
          `${String(shape.numLayers).padEnd(7)} ${mb(r.weightBytes).padEnd(9)} ${String(r.workers).padEnd(8)} ` +
            `${mb(r.rssBytes).padEnd(10)} ${mb(r.anonymousBytes).padEnd(10)} ${mb(extra).padEnd(10)} ` +
            `${r.workers > 1 ? mb(extra / (r.workers - 1)) : ""}`,
        );
      }
      console.log(
        `        (kernel ${one.kernel}; a copy of the weights per worker would add ${mb(one.weightBytes)} per extra worker)`,
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}
