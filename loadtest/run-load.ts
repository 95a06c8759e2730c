import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CannonSummary, cannon } from "./autocannon-scenario.js";
import { environment } from "./environment.js";
import { MetricsScrape } from "./metrics.js";
import { type OverloadResult, runOverload } from "./overload.js";
import { type LoadReport, PLOT_FILE, writeReport } from "./report.js";
import { REPO_ROOT, ServerProcess } from "./server.js";
import { sleep } from "./stats.js";
import { closedLoop, type LoadSummary, summarize } from "./stream-client.js";
import { LONG, SHORT, Workload } from "./workload.js";

/**
 * `npm run loadtest` (this file): the default, bounded profile (about four minutes) against one server with
 * its default settings, started here on loopback:
 *   1. non-streaming completions with autocannon at 1, 4, 16, 64 and 256 connections, then a mix
 *      of short and long prompts;
 *   2. the same concurrency levels with the streaming client (TTFT, ITL, e2e, tokens/s), clients
 *      that wait out Retry-After after a 429;
 *   3. overload at 4x capacity (loadtest/overload.ts).
 * Writes docs/LOADTEST.md and docs/loadtest-concurrency.svg (--out to write elsewhere, --json for
 * the raw figures).
 */

export const CONCURRENCY_LEVELS = [1, 4, 16, 64, 256];

const { values: args } = parseArgs({
  options: {
    out: { type: "string", default: join(REPO_ROOT, "docs") },
    json: { type: "string" },
    /** Seconds per concurrency level. */
    seconds: { type: "string", default: "10" },
  },
});
const seconds = Number(args.seconds);

const env = environment();
const log = (message: string) =>
  console.log(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${message}`);
const started = performance.now();

const server = await ServerProcess.start({ flags: { "--grace-period": 5 } });
try {
  const workload = await Workload.of(server.url);
  const scrape = await MetricsScrape.from(server.url);
  const slots = scrape.value("trine_sequence_slots_total");
  const kernel = scrape.series("trine_build_info")[0]?.labels.kernel ?? "unknown";
  const waitUntilIdle = async () => {
    for (let i = 0; i < 600; i++) {
      if ((await MetricsScrape.from(server.url)).value("trine_sequence_slots_used") === 0) return;
      await sleep(100);
    }
  };
  log(`server ready: ${slots} sequence slots, kernel ${kernel}`);

  await closedLoop({
    baseUrl: server.url,
    concurrency: 4,
    durationMs: 5000,
    body: () => workload.completion(SHORT),
  });
  server.resetProbe();

  const cannonRuns: CannonSummary[] = [];
  for (const connections of CONCURRENCY_LEVELS) {
    await waitUntilIdle();
    const run = await cannon(server.url, connections, seconds, () => workload.completion(SHORT));
    log(
      `autocannon ${connections}: ${run.okPerSecond.toFixed(1)} 2xx/s, p99 ${run.okLatencyMs.p99.toFixed(0)} ms, ${run.rejected} 429s`,
    );
    cannonRuns.push(run);
  }
  await waitUntilIdle();
  const mixedConnections = 16;
  const mixed = await cannon(server.url, mixedConnections, seconds * 1.5, workload.mixed(0.25));
  log(`autocannon mixed: ${mixed.okPerSecond.toFixed(1)} 2xx/s, p99 ${mixed.okLatencyMs.p99.toFixed(0)} ms`);

  const streamRuns: { concurrency: number; summary: LoadSummary }[] = [];
  for (const concurrency of CONCURRENCY_LEVELS) {
    await waitUntilIdle();
    const run = await closedLoop({
      baseUrl: server.url,
      concurrency,
      durationMs: seconds * 1000,
      body: () => workload.completion(SHORT),
      honourRetryAfter: true,
    });
    const summary = summarize(run.records, run.seconds);
    log(
      `stream ${concurrency}: ${summary.tokensPerSecond.toFixed(0)} tokens/s, TTFT p99 ${summary.ttft.p99.toFixed(2)} s, ` +
        `ITL p99 ${summary.itl.p99.toFixed(0)} ms, ${summary.outcomes.rejected} 429s`,
    );
    streamRuns.push({ concurrency, summary });
  }

  await waitUntilIdle();
  const overload: OverloadResult = await runOverload({
    baseUrl: server.url,
    slots,
    queueLength: 64,
    capacityMs: seconds * 1000,
    overloadMs: seconds * 1500,
    factor: 4,
    body: () => workload.completion(SHORT),
  });
  log(
    `overload: ${(overload.rejectedShare * 100).toFixed(1)}% 429, 429 p99 ${overload.overload.rejectLatency.p99.toFixed(0)} ms, ` +
      `ITL p50 ${overload.capacity.itl.p50.toFixed(0)} -> ${overload.overload.itl.p50.toFixed(0)} ms`,
  );
  env.loadAfter = loadavg()[0];

  const report: LoadReport = {
    env,
    kernel,
    slots,
    short: SHORT,
    long: LONG,
    levelSeconds: seconds,
    cannonRuns,
    mixed: { connections: mixedConnections, longShare: 0.25, summary: mixed },
    streamRuns,
    overload,
    samples: server.samples,
  };
  mkdirSync(args.out, { recursive: true });
  await writeReport(report, args.out);
  if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 1));
  log(`wrote ${join(args.out, "LOADTEST.md")} and ${join(args.out, PLOT_FILE)}`);
} finally {
  await server.stop();
}
