import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CannonSummary } from "./autocannon-scenario.js";
import { BLUE, chartSvg, GREEN, ORANGE, RED } from "./chart.js";
import { describeEnvironment, type Environment } from "./environment.js";
import type { OverloadResult } from "./overload.js";
import type { ProbeSample } from "./server.js";
import type { LoadSummary } from "./stream-client.js";
import type { Shape } from "./workload.js";

/** docs/LOADTEST.md and its chart, from one `npm run loadtest`. */

export interface LoadReport {
  readonly env: Environment;
  readonly kernel: string;
  readonly slots: number;
  readonly short: Shape;
  readonly long: Shape;
  readonly levelSeconds: number;
  readonly cannonRuns: readonly CannonSummary[];
  readonly mixed: {
    readonly connections: number;
    readonly longShare: number;
    readonly summary: CannonSummary;
  };
  readonly streamRuns: readonly { readonly concurrency: number; readonly summary: LoadSummary }[];
  readonly overload: OverloadResult;
  readonly samples: readonly ProbeSample[];
}

export const PLOT_FILE = "loadtest-concurrency.svg";

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const seconds3 = (p: { p50: number; p90: number; p99: number }, digits = 2) =>
  `${fixed(p.p50, digits)} / ${fixed(p.p90, digits)} / ${fixed(p.p99, digits)}`;
const percent = (share: number) => `${fixed(share * 100, 1)} %`;
const mib = (bytes: number) => `${fixed(bytes / 2 ** 20, 0)} MiB`;

function cannonRow(run: CannonSummary, tokensPerRequest: number): string {
  const total = run.ok + run.rejected + run.otherStatus;
  return `| ${run.connections} | ${fixed(run.okPerSecond, 1)} | ${fixed(run.okPerSecond * tokensPerRequest, 0)} | ${seconds3(
    { p50: run.okLatencyMs.p50 / 1000, p90: run.okLatencyMs.p90 / 1000, p99: run.okLatencyMs.p99 / 1000 },
  )} | ${fixed(run.rejected / run.seconds, 0)} (${percent(total === 0 ? 0 : run.rejected / total)}) | ${fixed(
    run.rejectedLatencyMs.p99,
    0,
  )} | ${run.otherStatus + run.errors + run.timeouts} |`;
}

export function markdown(report: LoadReport): string {
  const { env, overload } = report;
  const short = report.short;
  const lines: string[] = [];
  lines.push("# Load test report", "");
  lines.push(
    `Written by \`npm run loadtest\` (loadtest/run-load.ts) on ${env.startedAt.slice(0, 10)}; every figure below is from that one run. ` +
      "See [RELIABILITY.md](RELIABILITY.md) for what each scenario proves and how to run the others.",
    "",
  );
  lines.push(`- Machine: ${describeEnvironment(env)}.`);
  lines.push(
    `- Server: \`trine serve\` with its defaults, a separate process on loopback: the shipped storyteller model, ` +
      `${env.cores} workers x 16 sequences = ${report.slots} sequence slots, a queue of 64, kernel \`${report.kernel}\`, info logging.`,
  );
  lines.push(
    `- Requests: completions with a short prompt (about ${short.promptWords + 3} tokens) and ${short.maxTokens} output tokens, or a ` +
      `long one (about ${Math.round(report.long.promptWords * 1.1)} tokens) and ${report.long.maxTokens}; every prompt unique (no prefix-cache hits), ` +
      "end-of-text biased away so that each request generates exactly max_tokens. " +
      `${report.levelSeconds} s per level.`,
    "",
  );
  lines.push(`![Throughput and p99 latency against concurrency](${PLOT_FILE})`, "");

  lines.push("## Non-streaming completions (autocannon)", "");
  lines.push(
    "Each connection sends its next request when the last answer arrives; autocannon does not wait out Retry-After, " +
      "so beyond the server's slots and queue every retry is refused at once.",
    "",
  );
  lines.push(
    "| connections | 2xx/s | tokens/s | 2xx latency p50 / p90 / p99 (s) | 429/s (share) | 429 latency p99 (ms) | errors, timeouts |",
  );
  lines.push("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const run of report.cannonRuns) lines.push(cannonRow(run, short.maxTokens));
  const mixed = report.mixed;
  const mixedTokens = mixed.longShare * report.long.maxTokens + (1 - mixed.longShare) * short.maxTokens;
  lines.push(
    "",
    `Mixed prompts, ${percent(mixed.longShare)} long, at ${mixed.connections} connections (tokens/s counts ${fixed(mixedTokens, 0)} per request on average):`,
    "",
  );
  lines.push(
    "| connections | 2xx/s | tokens/s | 2xx latency p50 / p90 / p99 (s) | 429/s (share) | 429 latency p99 (ms) | errors, timeouts |",
  );
  lines.push("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  lines.push(cannonRow(mixed.summary, mixedTokens), "");

  lines.push("## Streaming completions", "");
  lines.push(
    "The streaming client (loadtest/stream-client.ts) reads every SSE event as it arrives. Clients wait out Retry-After " +
      "after a 429, as the OpenAI SDKs do. TTFT and e2e are from sending the request; ITL is the gap between token events.",
    "",
  );
  lines.push(
    "| clients | streams/s | tokens/s | TTFT p50 / p90 / p99 (s) | ITL p50 / p90 / p99 (ms) | e2e p50 / p90 / p99 (s) | 429 share | errors |",
  );
  lines.push("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const { concurrency, summary } of report.streamRuns) {
    const errors = summary.requests - summary.outcomes.ok - summary.outcomes.rejected;
    lines.push(
      `| ${concurrency} | ${fixed(summary.requestsPerSecond, 1)} | ${fixed(summary.tokensPerSecond, 0)} | ${seconds3(summary.ttft)} | ${seconds3(
        summary.itl,
        0,
      )} | ${seconds3(summary.e2e)} | ${percent(summary.outcomes.rejected / summary.requests)} | ${errors} |`,
    );
  }
  lines.push("");

  const o = overload.overload;
  lines.push("## Overload at 4x capacity", "");
  lines.push(
    `Capacity, measured with ${overload.slots} streaming clients (one per slot): ${fixed(overload.capacity.requestsPerSecond, 1)} streams/s. ` +
      `Then ${fixed(overload.offeredPerSecond, 1)} requests/s arriving at a fixed rate for ${fixed(
        o.windowSeconds,
        0,
      )} s or so, none retried:`,
    "",
  );
  lines.push(
    `- ${o.requests} requests: ${o.outcomes.ok} complete streams, ${o.outcomes.rejected} refused with 429 (${percent(
      overload.rejectedShare,
    )}), ${o.outcomes.http_error} other statuses, ${o.outcomes.stream_error} stream errors, ${o.outcomes.transport_error} broken connections, ${o.outcomes.timeout} timeouts.`,
  );
  lines.push(
    `- 429 latency p50 / p90 / p99 / max: ${fixed(o.rejectLatency.p50, 1)} / ${fixed(o.rejectLatency.p90, 1)} / ${fixed(
      o.rejectLatency.p99,
      1,
    )} / ${fixed(o.rejectLatency.max, 1)} ms; Retry-After on every 429: ${o.retryAfterValues.join(", ")} s.`,
  );
  lines.push(
    `- Inter-token latency of the admitted streams, p50 / p90 / p99: ${seconds3(overload.capacity.itl, 0)} ms at capacity, ${seconds3(
      o.itl,
      0,
    )} ms under 4x overload. TTFT p50 / p99 ${fixed(o.ttft.p50, 2)} / ${fixed(o.ttft.p99, 2)} s: admitted requests wait in the queue of ${overload.queueLength}.`,
  );
  lines.push(
    `- /metrics against the clients: \`trine_requests_running\` peaked at ${overload.maxRunning} (slots ${overload.slots}) and ` +
      `\`trine_requests_waiting\` at ${overload.maxWaiting} (queue ${overload.queueLength}); over ${overload.gauges.length} scrapes ` +
      `the gauges were at most ${overload.runningGaugeError} (running) and ${overload.waitingGaugeError} (waiting) away from the clients' own counts ` +
      `taken around each scrape. 429s counted by the server ${overload.rejectedByMetrics}, by the clients ${overload.rejectedByClients}; ` +
      `finished requests ${overload.finishedByMetrics} and ${overload.finishedByClients}. Afterwards: running ${overload.idle.running}, ` +
      `waiting ${overload.idle.waiting}, slots used ${overload.idle.slotsUsed}.`,
    "",
  );

  const samples = report.samples;
  if (samples.length > 1) {
    const last = samples[samples.length - 1];
    const first = samples[0];
    const span = (last.at - first.at) / 1000;
    const mainCpu =
      last.mainThreadCpuMs !== null && first.mainThreadCpuMs !== null
        ? (last.mainThreadCpuMs - first.mainThreadCpuMs) / 1000 / span
        : Number.NaN;
    const processCpu = (last.processCpuMs - first.processCpuMs) / 1000 / span;
    lines.push("## The server during the run", "");
    lines.push(
      `- Resident memory ${mib(Math.min(...samples.map((s) => s.rss)))} to ${mib(Math.max(...samples.map((s) => s.rss)))}; ` +
        `main-thread heap ${mib(Math.min(...samples.map((s) => s.heapUsed)))} to ${mib(Math.max(...samples.map((s) => s.heapUsed)))}.`,
    );
    lines.push(
      `- Event-loop delay of the main thread over the measured run: p99 ${fixed(last.lagP99MsTotal, 1)} ms, max ${fixed(
        last.lagMaxMsTotal,
        0,
      )} ms.`,
    );
    lines.push(
      `- CPU: the whole process ${fixed(processCpu, 2)} cores on average, its main thread (HTTP, tokenizing, SSE) ${fixed(mainCpu, 2)}.`,
      "",
    );
  }
  return `${lines.join("\n")}\n`;
}

export function plot(report: LoadReport): Promise<string> {
  const xTicks = report.cannonRuns.map((run) => run.connections);
  const stream = report.streamRuns;
  return chartSvg(
    "Trine under load: storyteller, default settings",
    `${report.env.cpu}, ${report.env.cores} cores, shared with the load generator; ${report.short.maxTokens} tokens per request; ${report.env.startedAt.slice(0, 10)}`,
    [
      {
        title: "Throughput",
        xLabel: "Concurrent clients",
        yLabel: "Generated tokens/s",
        xTicks,
        series: [
          {
            label: "streaming",
            color: BLUE,
            points: stream.map((r) => ({ x: r.concurrency, y: r.summary.tokensPerSecond })),
          },
          {
            label: "non-streaming",
            color: ORANGE,
            points: report.cannonRuns.map((r) => ({
              x: r.connections,
              y: r.okPerSecond * report.short.maxTokens,
            })),
          },
        ],
      },
      {
        title: "p99 latency",
        xLabel: "Concurrent clients",
        yLabel: "Seconds",
        xTicks,
        logY: true,
        series: [
          {
            label: "stream e2e",
            color: BLUE,
            points: stream.map((r) => ({ x: r.concurrency, y: r.summary.e2e.p99 })),
          },
          {
            label: "stream TTFT",
            color: GREEN,
            points: stream.map((r) => ({ x: r.concurrency, y: r.summary.ttft.p99 })),
          },
          {
            label: "stream ITL",
            color: RED,
            points: stream.map((r) => ({ x: r.concurrency, y: r.summary.itl.p99 / 1000 })),
          },
          {
            label: "non-streaming 2xx",
            color: ORANGE,
            points: report.cannonRuns.map((r) => ({ x: r.connections, y: r.okLatencyMs.p99 / 1000 })),
          },
        ],
      },
    ],
  );
}

export async function writeReport(report: LoadReport, dir: string): Promise<void> {
  writeFileSync(join(dir, "LOADTEST.md"), markdown(report));
  writeFileSync(join(dir, PLOT_FILE), await plot(report));
}
