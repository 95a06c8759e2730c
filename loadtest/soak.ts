import { waitUntilIdle } from "./faults.js";
import { MetricsScrape } from "./metrics.js";
import type { ProbeSample, ServerProcess } from "./server.js";
import { percentiles, sleep, slope, windowMinima } from "./stats.js";
import { loadAgent, streamRequest } from "./stream-client.js";
import { prompt, SHORT, type Workload } from "./workload.js";

/**
 * Soak: steady mixed traffic for a while, below saturation, against a server process whose
 * probe samples its memory and event loop once a second. After the warm-up, resident memory and
 * the heap must stay flat (their least-squares slopes are reported; the heap's over the lowest
 * after each full collection, i.e. what is still alive), the event loop must keep up, and when
 * the traffic stops every slot must be free and the server's counts must match the clients'.
 *
 * The traffic: streaming clients (one in ten prompts long), a client of non-streamed chat
 * completions, one whose streams disconnect after three tokens, and one sending bad requests and
 * tokenize calls.
 */

export interface SoakOptions {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly streamingClients: number;
  /** Window of the heap's low points, ms. */
  readonly heapWindowMs: number;
}

export interface SoakResult {
  readonly seconds: number;
  readonly requests: Readonly<Record<string, number>>;
  /** Requests that did not end as their kind should. */
  readonly unexpected: readonly string[];
  readonly streamedTokens: number;
  /** After the warm-up, MiB per minute: resident memory, and the heap after full collections. */
  readonly rssSlopeMiBPerMin: number;
  readonly heapSlopeMiBPerMin: number;
  /** Full collections after the warm-up (the heap slope's points). */
  readonly majorGcs: number;
  readonly rssMiB: { readonly first: number; readonly last: number; readonly max: number };
  readonly heapMiB: { readonly first: number; readonly last: number; readonly max: number };
  /** Event-loop delay after the warm-up, ms. */
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  readonly itlP99Ms: number;
  readonly ttftP99Ms: number;
  /** Once the traffic stopped. */
  readonly idleAfterMs: number | null;
  readonly slotsUsedAfter: number;
  /** Choices the server counts as ended (trine_requests_total) against the clients' count. */
  readonly endedByMetrics: number;
  readonly endedByClients: number;
  readonly samples: readonly ProbeSample[];
}

const MiB = 2 ** 20;

export async function runSoak(
  server: ServerProcess,
  workload: Workload,
  options: SoakOptions,
): Promise<SoakResult> {
  const url = server.url;
  const before = await MetricsScrape.from(url);
  const agent = loadAgent();
  const started = performance.now();
  const until = started + options.durationMs;
  const requests: Record<string, number> = {};
  const unexpected: string[] = [];
  const itl: number[] = [];
  const ttft: number[] = [];
  let streamedTokens = 0;
  /** Choices that ended on the server's side, as the clients know them. */
  let ended = 0;
  const count = (kind: string) => {
    requests[kind] = (requests[kind] ?? 0) + 1;
  };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as { error?: { code?: string }; choices?: { message?: unknown }[] };
    return { status: response.status, json };
  };

  const streaming = async (client: number) => {
    const next = workload.mixed(0.1);
    while (performance.now() < until) {
      const record = await streamRequest(agent, url, "/v1/completions", next());
      count("stream");
      if (record.outcome !== "ok")
        unexpected.push(`stream ${client}: ${record.outcome} ${record.errorCode ?? ""}`);
      else {
        ended++;
        streamedTokens += record.tokens;
        itl.push(...record.itlMs);
        if (record.ttftMs !== null) ttft.push(record.ttftMs);
      }
    }
  };
  const chat = async () => {
    for (let i = 0; performance.now() < until; i++) {
      const { status, json } = await post("/v1/chat/completions", {
        model: workload.model,
        messages: [
          { role: "system", content: "You tell short stories." },
          { role: "user", content: prompt(i, 12) },
        ],
        max_completion_tokens: 16,
      });
      count("chat");
      if (status === 200 && json.choices?.[0]?.message) ended++;
      else unexpected.push(`chat: ${status}`);
    }
  };
  const leaving = async () => {
    while (performance.now() < until) {
      const record = await streamRequest(
        agent,
        url,
        "/v1/completions",
        { ...workload.completion(SHORT), max_tokens: 200 },
        { onToken: (index) => index >= 2 },
      );
      count("disconnect");
      if (record.outcome === "left") ended++;
      else unexpected.push(`disconnect: ${record.outcome}`);
      await sleep(20);
    }
  };
  const bad = async () => {
    for (let i = 0; performance.now() < until; i++) {
      const invalid = await post("/v1/completions", { model: workload.model, prompt: "x", temperature: -1 });
      const tokenized = await post("/tokenize", { prompt: prompt(i, 40) });
      count("invalid");
      count("tokenize");
      if (invalid.status !== 400 || invalid.json.error?.code !== "invalid_value")
        unexpected.push(`invalid: ${invalid.status}`);
      if (tokenized.status !== 200) unexpected.push(`tokenize: ${tokenized.status}`);
      await sleep(50);
    }
  };

  let warmedUpAt = Number.POSITIVE_INFINITY;
  const warmup = sleep(options.warmupMs).then(() => {
    server.resetProbe();
    warmedUpAt = Date.now();
  });
  await Promise.all([
    ...Array.from({ length: options.streamingClients }, (_, i) => streaming(i)),
    chat(),
    leaving(),
    bad(),
    warmup,
  ]);
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  // One more sample, so that the figures since the warm-up cover the whole run.
  await sleep(1100);
  const idleAfterMs = await waitUntilIdle(url);
  const after = await MetricsScrape.from(url);

  const measured = server.samples.filter((sample) => sample.at > warmedUpAt);
  const minutes = (sample: ProbeSample) => (sample.at - warmedUpAt) / 60_000;
  // The heap after each full collection; where there were too few of them, the low point of
  // each window instead.
  const afterCollections = measured.filter(
    (sample, i) => i > 0 && sample.heapAfterMajorGc !== null && sample.majorGcs !== measured[i - 1].majorGcs,
  );
  const heapLows =
    afterCollections.length >= 4
      ? afterCollections.map((sample) => ({ x: sample.at - warmedUpAt, y: sample.heapAfterMajorGc! }))
      : windowMinima(
          measured.map((sample) => ({ x: sample.at - warmedUpAt, y: sample.heapUsed })),
          options.heapWindowMs,
        );
  const last = measured[measured.length - 1];
  const endedDelta = ["stop", "length", "cancelled"].reduce(
    (sum, reason) =>
      sum +
      after.value("trine_requests_total", { finish_reason: reason }) -
      before.value("trine_requests_total", { finish_reason: reason }),
    0,
  );
  const range = (values: number[]) => ({
    first: values[0] / MiB,
    last: values[values.length - 1] / MiB,
    max: Math.max(...values) / MiB,
  });
  return {
    seconds,
    requests,
    unexpected,
    streamedTokens,
    rssSlopeMiBPerMin: slope(measured.map((s) => ({ x: minutes(s), y: s.rss / MiB }))),
    heapSlopeMiBPerMin: slope(heapLows.map((p) => ({ x: p.x / 60_000, y: p.y / MiB }))),
    majorGcs: afterCollections.length,
    rssMiB: range(measured.map((s) => s.rss)),
    heapMiB: range(measured.map((s) => s.heapUsed)),
    lagP99Ms: last?.lagP99MsTotal ?? Number.NaN,
    lagMaxMs: last?.lagMaxMsTotal ?? Number.NaN,
    itlP99Ms: percentiles(itl).p99,
    ttftP99Ms: percentiles(ttft).p99,
    idleAfterMs,
    slotsUsedAfter: after.value("trine_sequence_slots_used"),
    endedByMetrics: endedDelta,
    endedByClients: ended,
    samples: server.samples,
  };
}
