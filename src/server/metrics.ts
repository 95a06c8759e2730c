import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { FAILURE_REASONS, type FailureReason } from "./errors.js";

/**
 * The Prometheus metrics (docs/METRICS.md lists them). Every metric carries the served model's
 * name as `model`; only the finish and failure counters and the memory gauge add a label of their
 * own. Each server has its own registry, so several servers in one process (tests) never clash.
 */

/** vLLM's buckets, so that dashboards built for vLLM read these the same way. */
const TIME_TO_FIRST_TOKEN_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
  80.0, 160.0, 640.0, 2560.0,
];
const INTER_TOKEN_LATENCY_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];
/** Grammar compiles take milliseconds for a choice, seconds for a large schema and vocabulary. */
const GRAMMAR_COMPILE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
  960.0, 1920.0, 7680.0,
];

/** The window of trine_generation_tokens_per_second. */
export const TOKEN_RATE_WINDOW_SECONDS = 10;

/** OutputConstraint["type"], the label values of trine_constrained_requests_total. */
const CONSTRAINT_KINDS = ["json_schema", "json_object", "regex", "choice", "grammar", "structural_tag"];

export type RequestFinishReason = "stop" | "length" | "cancelled" | "error";

/** Live values the gauges read at scrape time. */
export interface ServerGaugeSources {
  requestsRunning(): number;
  requestsWaiting(): number;
  slotsUsed(): number;
  slotsTotal(): number;
  modelWeightBytes(): number;
}

/** Tokens per second over the last TOKEN_RATE_WINDOW_SECONDS, in one-second buckets. */
class RecentRate {
  private readonly counts = new Float64Array(TOKEN_RATE_WINDOW_SECONDS);
  private readonly seconds = new Float64Array(TOKEN_RATE_WINDOW_SECONDS).fill(-1);

  constructor(private readonly startedAt = Date.now()) {}

  add(count: number, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const slot = second % TOKEN_RATE_WINDOW_SECONDS;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot] += count;
  }

  perSecond(now = Date.now()): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let slot = 0; slot < TOKEN_RATE_WINDOW_SECONDS; slot++) {
      if (second - this.seconds[slot] < TOKEN_RATE_WINDOW_SECONDS) total += this.counts[slot];
    }
    // A server younger than the window divides by the time it has been up.
    const window = Math.min(TOKEN_RATE_WINDOW_SECONDS, Math.max(1, (now - this.startedAt) / 1000));
    return total / window;
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly labels: { model: string };
  private readonly tokenRate = new RecentRate();

  private readonly timeToFirstToken: Histogram<"model">;
  private readonly interTokenLatency: Histogram<"model">;
  private readonly requestLatency: Histogram<"model">;
  private readonly queueTime: Histogram<"model">;
  private readonly prefillTime: Histogram<"model">;
  private readonly promptTokens: Counter<"model">;
  private readonly generationTokens: Counter<"model">;
  private readonly requests: Counter<"model" | "finish_reason">;
  private readonly failures: Counter<"model" | "reason">;
  private readonly prefixCacheQueries: Counter<"model">;
  private readonly prefixCacheHits: Counter<"model">;
  private readonly prefixCacheHitTokens: Counter<"model">;
  private readonly workerRestarts: Counter<"model">;
  private readonly constrainedRequests: Counter<"model" | "kind">;
  private readonly grammarCompileTime: Histogram<"model">;
  private readonly grammarCacheLookups: Counter<"model" | "result">;
  private readonly buildInfo: Gauge<"model" | "version" | "kernel" | "node_version">;

  constructor(model: string, sources: ServerGaugeSources) {
    this.labels = { model };
    const registers = [this.registry];
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, buckets, labelNames: ["model"], registers });
    // Counters start at 0 for every label value, so that rate() sees the first increment.
    const counter = (name: string, help: string) => {
      const metric = new Counter({ name, help, labelNames: ["model"], registers });
      metric.inc(this.labels, 0);
      return metric;
    };
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["model"],
        registers,
        collect() {
          this.set({ model }, read());
        },
      });

    this.timeToFirstToken = histogram(
      "trine_time_to_first_token_seconds",
      "Time from a request's arrival to its first generated token.",
      TIME_TO_FIRST_TOKEN_BUCKETS,
    );
    this.interTokenLatency = histogram(
      "trine_inter_token_latency_seconds",
      "Time between consecutive tokens of one choice.",
      INTER_TOKEN_LATENCY_BUCKETS,
    );
    this.requestLatency = histogram(
      "trine_e2e_request_latency_seconds",
      "Time from a generation request's arrival to its last token.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.queueTime = histogram(
      "trine_request_queue_time_seconds",
      "Time a generation request waited for its sequence slots.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.prefillTime = histogram(
      "trine_request_prefill_time_seconds",
      "Time from a request getting its slots to its first token (prompt processing).",
      REQUEST_LATENCY_BUCKETS,
    );
    this.promptTokens = counter(
      "trine_prompt_tokens_total",
      "Prompt tokens of generation requests (usage.prompt_tokens).",
    );
    this.generationTokens = counter("trine_generation_tokens_total", "Tokens generated.");
    this.requests = new Counter({
      name: "trine_requests_total",
      help: "Choices (sequences) that ended, by finish reason: stop, length, cancelled (client left), error.",
      labelNames: ["model", "finish_reason"],
      registers,
    });
    for (const finish_reason of ["stop", "length", "cancelled", "error"])
      this.requests.inc({ model, finish_reason }, 0);
    this.failures = new Counter({
      name: "trine_request_failures_total",
      help: "Requests answered with an error, or cut short by their deadline, by reason.",
      labelNames: ["model", "reason"],
      registers,
    });
    for (const reason of FAILURE_REASONS) this.failures.inc({ model, reason }, 0);
    this.prefixCacheQueries = counter(
      "trine_prefix_cache_queries_total",
      "Prompts looked up in the prefix state cache.",
    );
    this.prefixCacheHits = counter(
      "trine_prefix_cache_hits_total",
      "Prompts that started from a cached prefix state.",
    );
    this.prefixCacheHitTokens = counter(
      "trine_prefix_cache_hit_tokens_total",
      "Prompt tokens not prefilled because their state came from the cache.",
    );
    this.workerRestarts = counter(
      "trine_worker_restarts_total",
      "Worker threads that died and were replaced.",
    );

    this.constrainedRequests = new Counter({
      name: "trine_constrained_requests_total",
      help: "Generation requests whose output is constrained, by kind: json_schema, json_object, regex, choice, grammar, structural_tag (tool calls).",
      labelNames: ["model", "kind"],
      registers,
    });
    for (const kind of CONSTRAINT_KINDS) this.constrainedRequests.inc({ model, kind }, 0);
    this.grammarCompileTime = histogram(
      "trine_grammar_compile_seconds",
      "Time a worker spent compiling an output constraint for the vocabulary (cache misses only).",
      GRAMMAR_COMPILE_BUCKETS,
    );
    this.grammarCacheLookups = new Counter({
      name: "trine_grammar_cache_lookups_total",
      help: "Constrained sequences started, by whether their compiled grammar was in the worker's cache (result hit or miss).",
      labelNames: ["model", "result"],
      registers,
    });
    for (const result of ["hit", "miss"]) this.grammarCacheLookups.inc({ model, result }, 0);

    gauge("trine_requests_running", "Generation requests holding sequence slots.", () =>
      sources.requestsRunning(),
    );
    gauge("trine_requests_waiting", "Generation requests queued for sequence slots.", () =>
      sources.requestsWaiting(),
    );
    gauge("trine_sequence_slots_used", "Sequence slots in use.", () => sources.slotsUsed());
    gauge("trine_sequence_slots_total", "Sequence slots: workers x max sequences per worker.", () =>
      sources.slotsTotal(),
    );
    gauge("trine_model_weight_bytes", "Bytes of the model's weights, shared by all workers.", () =>
      sources.modelWeightBytes(),
    );
    const tokenRate = this.tokenRate;
    gauge(
      "trine_generation_tokens_per_second",
      `Tokens generated per second over the last ${TOKEN_RATE_WINDOW_SECONDS} s.`,
      () => tokenRate.perSecond(),
    );
    new Gauge({
      name: "trine_memory_bytes",
      help: "Process memory by kind: rss, heap_used, heap_total, external, array_buffers (weights count in rss).",
      labelNames: ["model", "kind"],
      registers,
      collect() {
        const usage = process.memoryUsage();
        this.set({ model, kind: "rss" }, usage.rss);
        this.set({ model, kind: "heap_used" }, usage.heapUsed);
        this.set({ model, kind: "heap_total" }, usage.heapTotal);
        this.set({ model, kind: "external" }, usage.external);
        this.set({ model, kind: "array_buffers" }, usage.arrayBuffers);
      },
    });
    this.buildInfo = new Gauge({
      name: "trine_build_info",
      help: "1, labelled with the Trine version, the ternary kernel the workers run and the Node.js version.",
      labelNames: ["model", "version", "kernel", "node_version"],
      registers,
    });
  }

  setBuildInfo(version: string, kernel: string): void {
    this.buildInfo.reset();
    this.buildInfo.set({ ...this.labels, version, kernel, node_version: process.versions.node }, 1);
  }

  requestAdmitted(queueSeconds: number, promptTokens: number): void {
    this.queueTime.observe(this.labels, queueSeconds);
    this.promptTokens.inc(this.labels, promptTokens);
  }

  firstToken(sinceArrivalSeconds: number, sinceAdmissionSeconds: number): void {
    this.timeToFirstToken.observe(this.labels, sinceArrivalSeconds);
    this.prefillTime.observe(this.labels, sinceAdmissionSeconds);
  }

  tokenGenerated(sincePreviousSeconds: number | null): void {
    this.generationTokens.inc(this.labels);
    this.tokenRate.add(1);
    if (sincePreviousSeconds !== null) this.interTokenLatency.observe(this.labels, sincePreviousSeconds);
  }

  choiceFinished(reason: RequestFinishReason): void {
    this.requests.inc({ ...this.labels, finish_reason: reason });
  }

  requestFinished(sinceArrivalSeconds: number): void {
    this.requestLatency.observe(this.labels, sinceArrivalSeconds);
  }

  requestFailed(reason: FailureReason): void {
    this.failures.inc({ ...this.labels, reason });
  }

  prefixCacheLookup(hitTokens: number): void {
    this.prefixCacheQueries.inc(this.labels);
    if (hitTokens > 0) {
      this.prefixCacheHits.inc(this.labels);
      this.prefixCacheHitTokens.inc(this.labels, hitTokens);
    }
  }

  workerRestarted(): void {
    this.workerRestarts.inc(this.labels);
  }

  constrainedRequest(kind: string): void {
    this.constrainedRequests.inc({ ...this.labels, kind });
  }

  grammarCompiled(cached: boolean, seconds: number): void {
    this.grammarCacheLookups.inc({ ...this.labels, result: cached ? "hit" : "miss" });
    if (!cached) this.grammarCompileTime.observe(this.labels, seconds);
  }
}
