import { BLUE, chartSvg, GREEN, ORANGE } from "./chart.js";
import type { Environment } from "./environment.js";
import type { ProbeSample } from "./server.js";

/** The soak's chart (SVG): the server's memory and its event-loop delay, sampled once a second. */
export function soakChart(samples: readonly ProbeSample[], env: Environment): Promise<string> {
  const start = samples[0].at;
  const points = (value: (s: ProbeSample) => number) =>
    samples.map((s) => ({ x: (s.at - start) / 60_000, y: value(s) }));
  return chartSvg(
    "Trine soak: memory and event loop",
    `${env.cpu}, ${env.cores} cores; ${env.startedAt.slice(0, 10)}`,
    [
      {
        title: "Memory",
        xLabel: "Minutes",
        yLabel: "MiB",
        xScale: "linear",
        series: [
          { label: "resident", color: BLUE, points: points((s) => s.rss / 2 ** 20) },
          { label: "heap used", color: ORANGE, points: points((s) => s.heapUsed / 2 ** 20) },
        ],
      },
      {
        title: "Event-loop delay, per second",
        xLabel: "Minutes",
        yLabel: "ms",
        xScale: "linear",
        series: [
          { label: "p99", color: GREEN, points: points((s) => s.lagP99Ms) },
          { label: "max", color: ORANGE, points: points((s) => s.lagMaxMs) },
        ],
      },
    ],
  );
}
