import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describeEnvironment, environment } from "./environment.js";
import { ServerProcess } from "./server.js";
import { closedLoop, type LoadSummary, summarize } from "./stream-client.js";
import { SHORT, Workload } from "./workload.js";

/**
 * What tracing costs a loaded server: two servers run side by side, one with tracing off and one
 * exporting every request's spans (the default sampler keeps them all) over OTLP/HTTP protobuf to
 * a collector stand-in here, and 16 streaming clients load each in turn, in interleaved rounds
 * (off, on, then on, off, ...), so that each round's on/off ratio compares two measurements taken
 * moments apart on the same machine. One worker each, 16 sequences per worker: the 16 clients keep
 * every slot busy. Wall-clock figures on a shared machine move with everything else running on it;
 * the CPU time each server spends per request (its process's, and its main thread's, where the
 * spans are made and exported) moves much less, so it is reported beside them.
 *
 *   npx tsx loadtest/tracing-overhead.ts [rounds = 4] [seconds per measurement = 10]
 *
 * With --baseline=DIR (another checkout, e.g. `git worktree add DIR <commit before tracing>` with
 * node_modules linked), both servers run with tracing off, DIR's against this tree's: what the
 * tracing hooks cost a server that does not trace. The ratios are then after / before.
 */

const baseline = process.argv.find((arg) => arg.startsWith("--baseline="))?.slice("--baseline=".length);
const [rounds = "4", seconds = "10"] = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const ROUNDS = Number(rounds);
const SECONDS = Number(seconds);
const CLIENTS = 16;

/** Takes what the exporter sends and answers as a collector does; counts it. */
async function startCollector() {
  const received = { exports: 0, bytes: 0 };
  const server = createServer((request, response) => {
    request.on("data", (chunk: Buffer) => {
      received.bytes += chunk.length;
    });
    request.on("end", () => {
      received.exports++;
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  return { url, received, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** CPU samples every 100 ms (loadtest/probe.mjs), so a measurement's bounds are close to its own. */
process.env.TRINE_PROBE_INTERVAL_MS = "100";
const collector = await startCollector();
const flags = { "--workers": 1, "--max-sequences": CLIENTS, "--prefix-cache-entries": 0 };
// The exporter's default batch delay (5 s) is kept: this is the configuration users get.
// "off" is the reference, "on" the variant measured against it.
const off = await ServerProcess.start({ flags, root: baseline });
const on = await ServerProcess.start({
  flags: baseline === undefined ? { ...flags, "--otlp-traces-endpoint": collector.url } : flags,
});
const names = baseline === undefined ? { off: "off", on: "on" } : { off: "before", on: "after" };

interface Measurement {
  readonly round: number;
  readonly tracing: "off" | "on";
  readonly summary: LoadSummary;
  /** CPU milliseconds per completed request: the whole process, and its main thread alone. */
  readonly cpuMsPerRequest: number;
  readonly mainThreadCpuMsPerRequest: number;
}

const latestSample = (server: ServerProcess) => server.samples[server.samples.length - 1];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const measurements: Measurement[] = [];
try {
  const servers = { off, on };
  const workloads = { off: await Workload.of(off.url), on: await Workload.of(on.url) };
  const load = async (which: "off" | "on", seconds: number) => {
    await sleep(250);
    const before = latestSample(servers[which]);
    const run = await closedLoop({
      baseUrl: servers[which].url,
      concurrency: CLIENTS,
      durationMs: seconds * 1000,
      body: () => workloads[which].completion(SHORT),
    });
    const summary = summarize(run.records, run.seconds);
    await sleep(250);
    const after = latestSample(servers[which]);
    const perRequest = (ms: number) => ms / Math.max(1, summary.outcomes.ok);
    return {
      summary,
      cpuMsPerRequest: perRequest(after.processCpuMs - before.processCpuMs),
      mainThreadCpuMsPerRequest: perRequest((after.mainThreadCpuMs ?? 0) - (before.mainThreadCpuMs ?? 0)),
    };
  };
  // Warm-up: the JIT, the kernels' first calls, the exporter's first connection.
  await load("off", 3);
  await load("on", 3);
  const exportsBefore = collector.received.exports;

  console.log(describeEnvironment(environment()));
  console.log(`${CLIENTS} streaming clients, ${SHORT.maxTokens} tokens each, ${SECONDS} s per measurement`);
  if (baseline !== undefined) console.log(`tracing off in both; before: ${baseline}, after: this tree`);
  console.log(
    "round  tracing  requests/s  tokens/s  ITL p50 ms  ITL p99 ms  TTFT p50 s  CPU ms/req  main ms/req  errors",
  );
  for (let round = 1; round <= ROUNDS; round++) {
    const order: ("off" | "on")[] = round % 2 === 1 ? ["off", "on"] : ["on", "off"];
    for (const which of order) {
      const measured = await load(which, SECONDS);
      const { summary } = measured;
      measurements.push({ round, tracing: which, ...measured });
      const errors = summary.requests - summary.outcomes.ok;
      console.log(
        `${String(round).padStart(5)}  ${names[which].padEnd(7)}  ${summary.requestsPerSecond.toFixed(2).padStart(10)}` +
          `  ${summary.tokensPerSecond.toFixed(0).padStart(8)}  ${summary.itl.p50.toFixed(2).padStart(10)}` +
          `  ${summary.itl.p99.toFixed(2).padStart(10)}  ${summary.ttft.p50.toFixed(3).padStart(10)}` +
          `  ${measured.cpuMsPerRequest.toFixed(2).padStart(10)}  ${measured.mainThreadCpuMsPerRequest.toFixed(2).padStart(11)}  ${errors}`,
      );
    }
  }

  // Each round's ratio compares measurements taken back to back; the median of those is the figure.
  const ratio = (round: number, of: (measurement: Measurement) => number) => {
    const pick = (which: "off" | "on") =>
      of(measurements.find((m) => m.round === round && m.tracing === which)!);
    return pick("on") / pick("off");
  };
  const rounds = Array.from({ length: ROUNDS }, (_, i) => i + 1);
  const median = (of: (measurement: Measurement) => number) => {
    const sorted = rounds.map((round) => ratio(round, of)).sort((a, b) => a - b);
    const middle = sorted.length / 2;
    return Number.isInteger(middle) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[Math.floor(middle)];
  };
  const figures: [string, (measurement: Measurement) => number][] = [
    ["requests/s", (m) => m.summary.requestsPerSecond],
    ["ITL p50", (m) => m.summary.itl.p50],
    ["ITL p99", (m) => m.summary.itl.p99],
    ["TTFT p50", (m) => m.summary.ttft.p50],
    ["CPU/req", (m) => m.cpuMsPerRequest],
    ["main/req", (m) => m.mainThreadCpuMsPerRequest],
  ];
  console.log(`\n${names.on} / ${names.off}, per round, and the median:`);
  for (const [name, of] of figures) {
    const perRound = rounds.map((round) => ratio(round, of).toFixed(3)).join("  ");
    console.log(`${name.padEnd(11)} ${perRound}   median ${median(of).toFixed(3)}`);
  }
  const traced = measurements
    .filter((m) => m.tracing === "on")
    .reduce((sum, m) => sum + m.summary.outcomes.ok, 0);
  console.log(
    `\nthe collector received ${collector.received.exports - exportsBefore} exports during the measurements ` +
      (baseline === undefined ? `(${traced} traced requests)` : "(tracing off in both servers)") +
      `, ${(collector.received.bytes / 1024).toFixed(0)} KiB in all`,
  );
} finally {
  await Promise.all([off.stop(), on.stop()]);
  await collector.close();
}
