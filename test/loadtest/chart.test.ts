import { describe, expect, it } from "vitest";
import { BLUE, chartSvg, ORANGE } from "../../loadtest/chart.js";

describe("the load-test charts", () => {
  it("render panels to an SVG with their titles, axis titles, series and decade ticks", async () => {
    const svg = await chartSvg("Trine under load", "a fixed machine; 32 tokens per request", [
      {
        title: "Throughput",
        xLabel: "Concurrent clients",
        yLabel: "Generated tokens/s",
        xTicks: [1, 4, 16],
        series: [
          { label: "streaming", color: BLUE, points: [1, 4, 16].map((x) => ({ x, y: 100 * x })) },
          { label: "non-streaming", color: ORANGE, points: [1, 4, 16].map((x) => ({ x, y: 90 * x })) },
        ],
      },
      {
        title: "p99 latency",
        xLabel: "Minutes",
        yLabel: "Seconds",
        xScale: "linear",
        logY: true,
        series: [
          {
            label: "stream TTFT",
            color: BLUE,
            points: [
              { x: 0, y: 0.004 },
              { x: 1, y: Number.NaN },
              { x: 2, y: 0.3 },
            ],
          },
        ],
      },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    for (const text of [
      "Trine under load",
      "a fixed machine; 32 tokens per request",
      "Throughput",
      "p99 latency",
      "Concurrent clients",
      "Generated tokens/s",
      "Minutes",
      "Seconds",
      "streaming",
      "non-streaming",
      "stream TTFT",
    ]) {
      expect(svg).toContain(`>${text}</text>`);
    }
    // The logarithmic axis is labelled in whole decades around the data.
    for (const tick of ["0.001", "0.01", "0.1", "1"]) expect(svg).toContain(`>${tick}</text>`);
    expect(svg).toContain(`stroke="${BLUE}"`);
    expect(svg).toContain(`stroke="${ORANGE}"`);
  });
});
