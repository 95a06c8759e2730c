import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OverloadResult, runOverload } from "../../loadtest/overload.js";
import { ServerProcess } from "../../loadtest/server.js";
import { SHORT, Workload } from "../../loadtest/workload.js";

/**
 * 4x overload at CI scale (`npm run loadtest` runs it at the default settings): the excess gets
 * fast 429s with Retry-After and never a timeout, the admitted streams keep their pace, and
 * /metrics agrees with the clients.
 */

const SLOTS = 16;
const QUEUE = 32;
let server: ServerProcess;
let result: OverloadResult;

beforeAll(async () => {
  server = await ServerProcess.start({
    flags: { "--workers": 2, "--max-sequences": SLOTS / 2, "--queue-length": QUEUE, "--grace-period": 1 },
  });
  const workload = await Workload.of(server.url);
  result = await runOverload({
    baseUrl: server.url,
    slots: SLOTS,
    queueLength: QUEUE,
    capacityMs: 4000,
    overloadMs: 6000,
    factor: 4,
    body: () => workload.completion(SHORT),
  });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

describe("offered load at 4x capacity", () => {
  it("refuses the excess with 429 and Retry-After, fast, and nothing times out or breaks", () => {
    const { outcomes } = result.overload;
    expect(outcomes.ok + outcomes.rejected).toBe(result.overload.requests);
    expect(outcomes.timeout + outcomes.transport_error + outcomes.stream_error + outcomes.http_error).toBe(0);
    // Most of the 4x is refused; the queue absorbs a little of it.
    expect(result.rejectedShare).toBeGreaterThan(0.4);
    expect(result.overload.retryAfterValues).toEqual(["1"]);
    // Refused before any work: milliseconds, where an admitted request takes seconds.
    expect(result.overload.rejectLatency.p99).toBeLessThan(500);
  });

  it("keeps the inter-token latency of the streams it admitted", () => {
    // The same batch size as at capacity; the only extra work is refusing (and, on a 2-core CI
    // machine, the load generator's own share of the cores).
    expect(result.overload.itl.p50).toBeLessThan(2 * result.capacity.itl.p50 + 10);
  });

  it("shows in /metrics what the clients saw", () => {
    expect(result.maxRunning).toBeLessThanOrEqual(SLOTS);
    expect(result.maxWaiting).toBeLessThanOrEqual(QUEUE);
    expect(result.maxRunning).toBe(SLOTS);
    expect(result.runningGaugeError).toBeLessThanOrEqual(3);
    // The clients count a request as waiting from sending it until its answer's headers arrive;
    // the server, from admission to start. The gap is the requests in transit at the scrape: the
    // arrival rate times the time a request takes to be refused, measured in the same run, and
    // never half the queue (a gauge that did not follow the queue would be off by all of it).
    const inTransit = Math.ceil((result.offeredPerSecond * result.overload.rejectLatency.p99) / 1000) + 2;
    expect(result.waitingGaugeError).toBeLessThanOrEqual(Math.min(inTransit, QUEUE / 2));
    expect(result.rejectedByMetrics).toBe(result.rejectedByClients);
    expect(result.finishedByMetrics).toBe(result.finishedByClients);
    expect(result.idle).toEqual({ running: 0, waiting: 0, slotsUsed: 0 });
  });

  it("is still up and serving", async () => {
    expect(server.exit).toBeUndefined();
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  });
});
