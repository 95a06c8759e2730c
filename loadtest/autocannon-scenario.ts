import autocannon from "autocannon";
import { type Percentiles, percentiles } from "./stats.js";

/**
 * A non-streaming autocannon run: `connections` connections, each sending its next request when
 * the last answer arrived, for `seconds`. autocannon's own histogram has only the 2xx latencies;
 * the 429s' latencies are collected here from its per-response events.
 */

export interface CannonSummary {
  readonly connections: number;
  readonly seconds: number;
  readonly ok: number;
  readonly rejected: number;
  readonly otherStatus: number;
  readonly errors: number;
  readonly timeouts: number;
  /** 2xx answers per second, and their latency, milliseconds. */
  readonly okPerSecond: number;
  readonly okLatencyMs: Percentiles;
  readonly rejectedLatencyMs: Percentiles;
}

/** autocannon counts a request as timed out (and resets its connection) after this, seconds. */
const REQUEST_TIMEOUT_S = 60;

export async function cannon(
  baseUrl: string,
  connections: number,
  seconds: number,
  body: () => Record<string, unknown>,
): Promise<CannonSummary> {
  const okLatencies: number[] = [];
  const rejectedLatencies: number[] = [];
  let otherStatus = 0;
  const instance = autocannon({
    url: baseUrl,
    connections,
    duration: seconds,
    timeout: REQUEST_TIMEOUT_S,
    requests: [
      {
        method: "POST",
        path: "/v1/completions",
        headers: { "content-type": "application/json" },
        setupRequest: (request) => ({ ...request, body: JSON.stringify(body()) }),
      },
    ],
  });
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) okLatencies.push(responseTime);
    else if (statusCode === 429) rejectedLatencies.push(responseTime);
    else otherStatus++;
  });
  const result = await instance;
  return {
    connections,
    seconds: result.duration,
    ok: okLatencies.length,
    rejected: rejectedLatencies.length,
    otherStatus,
    errors: result.errors,
    timeouts: result.timeouts,
    okPerSecond: okLatencies.length / result.duration,
    okLatencyMs: percentiles(okLatencies),
    rejectedLatencyMs: percentiles(rejectedLatencies),
  };
}
