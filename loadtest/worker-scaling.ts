import { parseArgs } from "node:util";
import { DEFAULT_MODEL_DIR } from "../src/model/default-model.js";
import { environment } from "./environment.js";
import { ServerProcess } from "./server.js";
import { quantile } from "./stats.js";
import { closedLoop, summarize } from "./stream-client.js";
import { type Shape, Workload } from "./workload.js";

const median = (values: readonly number[]) => quantile(values, 0.5);

/**
 * Does a second worker thread double the throughput? (issue 16, item 7: >= 1.8x with 32 streams.)
 * Servers with 1 and with 2 workers, started one after the other in alternating rounds, each
 * serving 32 streaming clients in a closed loop for --seconds; the ratio is taken within each
 * round (the machine's load drifts between rounds), and its median reported. Every server has
 * 32 sequence slots in all (--max-sequences 32 / workers), so the streams never queue and the
 * one-worker server decodes all 32 as one batch.
 *
 *   npm run loadtest:workers                                  # the shipped model
 *   npm run loadtest:workers -- --model=.work/random-370m-packed --seconds=20 --rounds=3
 */

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: DEFAULT_MODEL_DIR },
    seconds: { type: "string", default: "15" },
    rounds: { type: "string", default: "3" },
    streams: { type: "string", default: "32" },
    json: { type: "boolean", default: false },
  },
});
const streams = Number(args.streams);
/** Short prompts, long answers: decode is what the workers share out. */
const SHAPE: Shape = { name: "decode-heavy", promptWords: 16, maxTokens: 96 };

async function tokensPerSecond(workers: number): Promise<number> {
  const server = await ServerProcess.start({
    flags: {
      "--model": args.model as string,
      "--workers": workers,
      "--max-sequences": streams / workers,
      "--log-level": "warn",
    },
  });
  try {
    const workload = await Workload.of(server.url, args.model as string);
    // Warm-up: every worker has run a batch before the measured window.
    await closedLoop({
      baseUrl: server.url,
      concurrency: streams,
      durationMs: 3000,
      body: () => workload.completion(SHAPE),
    });
    const run = await closedLoop({
      baseUrl: server.url,
      concurrency: streams,
      durationMs: Number(args.seconds) * 1000,
      body: () => workload.completion(SHAPE),
    });
    const summary = summarize(run.records, run.seconds);
    if (summary.outcomes.ok !== summary.requests)
      throw new Error(`failed requests: ${JSON.stringify(summary.outcomes)}`);
    return summary.tokensPerSecond;
  } finally {
    await server.stop();
  }
}

const env = environment();
console.log(
  `worker scaling, ${streams} streams, model ${args.model}, ${env.cpu}, ${env.cores} cores, load ${env.loadBefore.toFixed(2)}`,
);
const rounds: { one: number; two: number; ratio: number }[] = [];
for (let round = 0; round < Number(args.rounds); round++) {
  const one = await tokensPerSecond(1);
  const two = await tokensPerSecond(2);
  rounds.push({ one, two, ratio: two / one });
  console.log(
    `round ${round + 1}: 1 worker ${one.toFixed(0)} tok/s, 2 workers ${two.toFixed(0)} tok/s, ${(two / one).toFixed(2)}x`,
  );
}
const result = {
  model: args.model,
  streams,
  one_worker_tokens_per_s: median(rounds.map((r) => r.one)),
  two_workers_tokens_per_s: median(rounds.map((r) => r.two)),
  ratio: median(rounds.map((r) => r.ratio)),
  rounds,
};
console.log(`median: ${result.ratio.toFixed(2)}x (target >= 1.8)`);
if (args.json) console.log(JSON.stringify(result));
