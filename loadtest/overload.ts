import { MetricsScrape } from "./metrics.js";
import { sleep } from "./stats.js";
import { closedLoop, type LoadSummary, openLoop, type RequestRecord, summarize } from "./stream-client.js";

/**
 * Overload: first the capacity, the completed streams per second with every sequence slot busy
 * (as many closed-loop clients as slots); then `factor` times that offered as fixed-rate arrivals
 * that never retry. The excess must be refused at once with 429 and Retry-After, the admitted
 * streams must keep the inter-token latency they had at capacity, and /metrics must agree with
 * what the clients saw: the running and waiting gauges sampled during the run against the
 * clients' own count of streams under way and of requests without an answer yet, and the 429 and
 * finished-request counters exactly.
 */

export interface GaugeSample {
  /** Seconds since the overload began. */
  readonly at: number;
  readonly running: number;
  readonly waiting: number;
  /** Streams whose 200 had arrived and that had not ended, before and after the scrape. */
  readonly clientRunning: readonly [number, number];
  /** Requests sent and not yet answered, before and after the scrape. */
  readonly clientWaiting: readonly [number, number];
}

export interface OverloadResult {
  readonly slots: number;
  readonly queueLength: number;
  readonly capacity: LoadSummary;
  readonly offeredPerSecond: number;
  readonly overload: LoadSummary;
  readonly rejectedShare: number;
  readonly gauges: readonly GaugeSample[];
  /** The largest distance between a gauge and the range the clients' count spanned during its scrape. */
  readonly runningGaugeError: number;
  readonly waitingGaugeError: number;
  readonly maxRunning: number;
  readonly maxWaiting: number;
  /** trine_request_failures_total{reason=queue_full|queue_timeout} over the run, and the clients' 429s. */
  readonly rejectedByMetrics: number;
  readonly rejectedByClients: number;
  /** trine_requests_total{finish_reason=length} over the run, and the clients' complete streams. */
  readonly finishedByMetrics: number;
  readonly finishedByClients: number;
  /** The gauges once every request had ended. */
  readonly idle: { readonly running: number; readonly waiting: number; readonly slotsUsed: number };
}

export interface OverloadOptions {
  readonly baseUrl: string;
  readonly slots: number;
  readonly queueLength: number;
  readonly capacityMs: number;
  readonly overloadMs: number;
  readonly factor: number;
  /** A request that generates a fixed number of tokens (end-of-text biased away). */
  readonly body: () => Record<string, unknown>;
  readonly scrapeEveryMs?: number;
}

const distance = (value: number, [a, b]: readonly [number, number]) =>
  value < Math.min(a, b) ? Math.min(a, b) - value : value > Math.max(a, b) ? value - Math.max(a, b) : 0;

export async function runOverload(options: OverloadOptions): Promise<OverloadResult> {
  const { baseUrl } = options;
  const atCapacity = await closedLoop({
    baseUrl,
    concurrency: options.slots,
    durationMs: options.capacityMs,
    body: () => options.body(),
  });
  const capacity = summarize(atCapacity.records, atCapacity.seconds);
  const offeredPerSecond = options.factor * capacity.requestsPerSecond;

  const before = await MetricsScrape.from(baseUrl);
  let clientRunning = 0;
  let clientWaiting = 0;
  const gauges: GaugeSample[] = [];
  let overloading = true;
  const started = performance.now();
  const sampler = (async () => {
    while (overloading) {
      const counts = (): [number, number] => [clientRunning, clientWaiting];
      const [runningBefore, waitingBefore] = counts();
      const scrape = await MetricsScrape.from(baseUrl);
      const [runningAfter, waitingAfter] = counts();
      gauges.push({
        at: (performance.now() - started) / 1000,
        running: scrape.value("trine_requests_running"),
        waiting: scrape.value("trine_requests_waiting"),
        clientRunning: [runningBefore, runningAfter],
        clientWaiting: [waitingBefore, waitingAfter],
      });
      await sleep(options.scrapeEveryMs ?? 200);
    }
  })();
  const overloaded = await openLoop({
    baseUrl,
    ratePerSecond: offeredPerSecond,
    durationMs: options.overloadMs,
    body: () => {
      clientWaiting++;
      return options.body();
    },
    hooks: {
      onHeaders(status) {
        clientWaiting--;
        if (status === 200) clientRunning++;
      },
    },
    onEnd(record: RequestRecord) {
      if (record.headersMs === null) clientWaiting--;
      else if (record.status === 200) clientRunning--;
    },
  });
  overloading = false;
  await sampler;
  const overload = summarize(overloaded.records, overloaded.seconds);

  // Every request has ended; the slots come back at the workers' next step.
  let after = await MetricsScrape.from(baseUrl);
  for (let i = 0; i < 50 && after.value("trine_sequence_slots_used") > 0; i++) {
    await sleep(100);
    after = await MetricsScrape.from(baseUrl);
  }
  const delta = (name: string, labels: Record<string, string>) =>
    after.value(name, labels) - before.value(name, labels);
  return {
    slots: options.slots,
    queueLength: options.queueLength,
    capacity,
    offeredPerSecond,
    overload,
    rejectedShare: overload.outcomes.rejected / overload.requests,
    gauges,
    runningGaugeError: Math.max(0, ...gauges.map((g) => distance(g.running, g.clientRunning))),
    waitingGaugeError: Math.max(0, ...gauges.map((g) => distance(g.waiting, g.clientWaiting))),
    maxRunning: Math.max(0, ...gauges.map((g) => g.running)),
    maxWaiting: Math.max(0, ...gauges.map((g) => g.waiting)),
    rejectedByMetrics:
      delta("trine_request_failures_total", { reason: "queue_full" }) +
      delta("trine_request_failures_total", { reason: "queue_timeout" }),
    rejectedByClients: overload.outcomes.rejected,
    finishedByMetrics: delta("trine_requests_total", { finish_reason: "length" }),
    finishedByClients: overload.outcomes.ok,
    idle: {
      running: after.value("trine_requests_running"),
      waiting: after.value("trine_requests_waiting"),
      slotsUsed: after.value("trine_sequence_slots_used"),
    },
  };
}
