import { describe, expect, it } from "vitest";
import { MetricsScrape } from "../../loadtest/metrics.js";

const EXPOSITION = `# HELP trine_requests_total Requests finished.
# TYPE trine_requests_total counter
trine_requests_total{model="m",finish_reason="stop"} 3
trine_requests_total{model="m",finish_reason="length"} 2
# TYPE trine_ttft_seconds histogram
trine_ttft_seconds_bucket{le="0.1",model="m"} 4
trine_ttft_seconds_bucket{le="+Inf",model="m"} 5
trine_ttft_seconds_count{model="m"} 5
# TYPE trine_build_info gauge
trine_build_info{model="m",version="a \\"quoted\\" one",kernel="wasm"} 1
up 1
`;

describe("the Prometheus text parser", () => {
  const scrape = MetricsScrape.parse(EXPOSITION);

  it("reads types, samples and labels, escaped quotes included", () => {
    expect(scrape.types).toEqual({
      trine_requests_total: "counter",
      trine_ttft_seconds: "histogram",
      trine_build_info: "gauge",
    });
    expect(scrape.series("trine_ttft_seconds_bucket").map((sample) => sample.labels.le)).toEqual([
      "0.1",
      "+Inf",
    ]);
    expect(scrape.series("trine_build_info")[0].labels).toEqual({
      model: "m",
      version: 'a "quoted" one',
      kernel: "wasm",
    });
    expect(scrape.value("up")).toBe(1);
  });

  it("sums the samples whose labels include the ones asked, and reads 0 for none", () => {
    expect(scrape.value("trine_requests_total")).toBe(5);
    expect(scrape.value("trine_requests_total", { finish_reason: "length" })).toBe(2);
    expect(scrape.value("trine_requests_total", { finish_reason: "cancelled" })).toBe(0);
  });

  it("throws at a line that is not a sample", () => {
    expect(() => MetricsScrape.parse("trine_requests_total{model=m} 3\n")).toThrow(/not a Prometheus sample/);
    expect(() => MetricsScrape.parse("trine requests 3\n")).toThrow(/not a Prometheus sample/);
  });
});
