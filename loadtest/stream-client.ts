import { Agent, request } from "undici";
import { sseEvents } from "./sse-events.js";
import { type Percentiles, percentiles } from "./stats.js";

/**
 * The streaming load client. autocannon sees whole responses only; this one reads each SSE
 * stream as it arrives and records, per request, when the response headers came (admission: the
 * server sends them once the request has its slots), the first token (TTFT), the gaps between
 * tokens (ITL), the end (e2e) and the tokens generated (the usage chunk). A 429 is recorded with
 * its latency and Retry-After.
 */

export type Outcome =
  /** A complete stream: tokens, usage, [DONE]. */
  | "ok"
  /** 429: refused for lack of capacity. */
  | "rejected"
  /** Any other status. */
  | "http_error"
  /** An error event inside the stream. */
  | "stream_error"
  /** The stream ended without [DONE], or the connection failed. */
  | "transport_error"
  /** The client disconnected on purpose (StreamHooks.signal, or onToken returned true). */
  | "left"
  /** No headers, or no byte, within the client's timeout: what must never happen. */
  | "timeout";

export interface RequestRecord {
  readonly outcome: Outcome;
  readonly status: number | null;
  /** performance.now() when the request was sent, milliseconds. */
  readonly startedAt: number;
  /** From the start: response headers, first token, end; milliseconds. */
  readonly headersMs: number | null;
  readonly ttftMs: number | null;
  readonly e2eMs: number;
  /** The gaps between successive token chunks, milliseconds. */
  readonly itlMs: readonly number[];
  /** usage.completion_tokens (0 without a usage chunk). */
  readonly tokens: number;
  readonly retryAfter: string | null;
  /** error.code of an error body or event. */
  readonly errorCode: string | null;
}

export interface StreamHooks {
  /** The response headers arrived (the request was admitted, or refused). */
  onHeaders?(status: number): void;
  /** Each token chunk; return true to disconnect there (a client that leaves mid-stream). */
  onToken?(chunkIndex: number): boolean | undefined;
  /** Disconnects when aborted, wherever the request is. */
  signal?: AbortSignal;
}

/** Longest wait for response headers or for the next chunk before a request counts as timed out. */
export const CLIENT_TIMEOUT_MS = 60_000;

/** One connection per concurrent request, none reused across a failure. */
export function loadAgent(): Agent {
  return new Agent({
    connections: null,
    pipelining: 1,
    headersTimeout: CLIENT_TIMEOUT_MS,
    bodyTimeout: CLIENT_TIMEOUT_MS,
    keepAliveTimeout: 30_000,
  });
}

/** POSTs one streaming request to `path` and reads it to its end. */
export async function streamRequest(
  agent: Agent,
  baseUrl: string,
  path: string,
  body: Record<string, unknown>,
  hooks: StreamHooks = {},
): Promise<RequestRecord> {
  const startedAt = performance.now();
  const since = () => performance.now() - startedAt;
  let headersMs: number | null = null;
  let ttftMs: number | null = null;
  let lastTokenAt = 0;
  const itlMs: number[] = [];
  let tokens = 0;
  let status: number | null = null;
  const result = (
    outcome: Outcome,
    extra: { retryAfter?: string | null; errorCode?: string | null } = {},
  ): RequestRecord => ({
    outcome,
    status,
    startedAt,
    headersMs,
    ttftMs,
    e2eMs: since(),
    itlMs,
    tokens,
    retryAfter: extra.retryAfter ?? null,
    errorCode: extra.errorCode ?? null,
  });
  const abort = new AbortController();
  const leave = () => abort.abort();
  if (hooks.signal?.aborted) leave();
  hooks.signal?.addEventListener("abort", leave, { once: true });
  try {
    const response = await request(`${baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      dispatcher: agent,
      signal: abort.signal,
    });
    status = response.statusCode;
    headersMs = since();
    hooks.onHeaders?.(status);
    if (status !== 200) {
      const text = await response.body.text();
      let code: string | null = null;
      try {
        code = JSON.parse(text)?.error?.code ?? null;
      } catch {}
      const retryAfter = response.headers["retry-after"];
      return result(status === 429 ? "rejected" : "http_error", {
        retryAfter: typeof retryAfter === "string" ? retryAfter : null,
        errorCode: code,
      });
    }
    let chunkIndex = 0;
    for await (const { data } of sseEvents(response.body)) {
      if (data === "[DONE]") return result("ok");
      const chunk = JSON.parse(data);
      if (chunk.error) return result("stream_error", { errorCode: chunk.error.code ?? null });
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      const choice = chunk.choices?.[0];
      const text = choice?.text ?? choice?.delta?.content;
      if (typeof text !== "string" || text === "") continue;
      const now = performance.now();
      if (ttftMs === null) ttftMs = now - startedAt;
      else itlMs.push(now - lastTokenAt);
      lastTokenAt = now;
      if (hooks.onToken?.(chunkIndex++)) {
        abort.abort();
        return result("left");
      }
    }
    return result("transport_error");
  } catch (error) {
    if (abort.signal.aborted) return result("left");
    const code = (error as { code?: string }).code;
    const timedOut = code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
    return result(timedOut ? "timeout" : "transport_error", { errorCode: code ?? null });
  } finally {
    hooks.signal?.removeEventListener("abort", leave);
  }
}

export interface LoadSummary {
  readonly requests: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
  /** Seconds. */
  readonly ttft: Percentiles;
  readonly e2e: Percentiles;
  /** Milliseconds. */
  readonly itl: Percentiles;
  /** Latency of the 429 answers, milliseconds. */
  readonly rejectLatency: Percentiles;
  readonly retryAfterValues: readonly string[];
  /** Completed streams per second and generated tokens per second over the run. */
  readonly requestsPerSecond: number;
  readonly tokensPerSecond: number;
  readonly windowSeconds: number;
}

export function summarize(records: readonly RequestRecord[], windowSeconds: number): LoadSummary {
  const outcomes: Record<Outcome, number> = {
    ok: 0,
    rejected: 0,
    http_error: 0,
    stream_error: 0,
    transport_error: 0,
    left: 0,
    timeout: 0,
  };
  for (const record of records) outcomes[record.outcome]++;
  const ok = records.filter((record) => record.outcome === "ok");
  const rejected = records.filter((record) => record.outcome === "rejected");
  return {
    requests: records.length,
    outcomes,
    ttft: percentiles(ok.filter((r) => r.ttftMs !== null).map((r) => r.ttftMs! / 1000)),
    e2e: percentiles(ok.map((r) => r.e2eMs / 1000)),
    itl: percentiles(ok.flatMap((r) => r.itlMs)),
    rejectLatency: percentiles(rejected.map((r) => r.e2eMs)),
    retryAfterValues: [...new Set(rejected.map((r) => String(r.retryAfter)))],
    requestsPerSecond: ok.length / windowSeconds,
    tokensPerSecond: ok.reduce((sum, r) => sum + r.tokens, 0) / windowSeconds,
    windowSeconds,
  };
}

export interface ClosedLoopOptions {
  readonly baseUrl: string;
  readonly path?: string;
  /** Clients, each sending its next request when the last one ended. */
  readonly concurrency: number;
  readonly durationMs: number;
  readonly body: (client: number, request: number) => Record<string, unknown>;
  /** After a 429, wait what Retry-After says (a well-behaved client), or retry at once. */
  readonly honourRetryAfter?: boolean;
  readonly hooks?: StreamHooks;
}

/**
 * `concurrency` clients streaming back to back for `durationMs`; requests under way at the end
 * are read to their end and counted. Returns the records and the seconds the run took.
 */
export async function closedLoop(
  options: ClosedLoopOptions,
): Promise<{ records: RequestRecord[]; seconds: number }> {
  const agent = loadAgent();
  const records: RequestRecord[] = [];
  const started = performance.now();
  const until = started + options.durationMs;
  const client = async (id: number) => {
    for (let n = 0; performance.now() < until; n++) {
      const record = await streamRequest(
        agent,
        options.baseUrl,
        options.path ?? "/v1/completions",
        options.body(id, n),
        options.hooks,
      );
      records.push(record);
      if (record.outcome === "rejected" && options.honourRetryAfter) {
        await new Promise((resolve) => setTimeout(resolve, Number(record.retryAfter ?? 1) * 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, id) => client(id)));
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  return { records, seconds };
}

export interface OpenLoopOptions {
  readonly baseUrl: string;
  readonly path?: string;
  /** Arrivals per second, evenly spaced, whatever the server does: offered load. */
  readonly ratePerSecond: number;
  readonly durationMs: number;
  readonly body: (request: number) => Record<string, unknown>;
  readonly hooks?: StreamHooks;
  /** Each request's record, as it ends. */
  readonly onEnd?: (record: RequestRecord) => void;
}

/** Requests arriving at a fixed rate, none retried; waits for every one to end. */
export async function openLoop(
  options: OpenLoopOptions,
): Promise<{ records: RequestRecord[]; seconds: number }> {
  const agent = loadAgent();
  const pending: Promise<RequestRecord>[] = [];
  const started = performance.now();
  const intervalMs = 1000 / options.ratePerSecond;
  for (let n = 0; ; n++) {
    const due = started + n * intervalMs;
    if (due >= started + options.durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const path = options.path ?? "/v1/completions";
    const sent = streamRequest(agent, options.baseUrl, path, options.body(n), options.hooks);
    pending.push(
      sent.then((record) => {
        options.onEnd?.(record);
        return record;
      }),
    );
  }
  const records = await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  return { records, seconds };
}
