import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  byteByByte,
  disconnectMidStream,
  pipelining,
  silentClients,
  slowReaders,
  waitUntilIdle,
} from "../../loadtest/faults.js";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { Workload } from "../../loadtest/workload.js";

/**
 * Clients that misbehave, at CI scale (`npm run loadtest:faults` runs the same scenarios with
 * hundreds of clients and the production timeouts). The server's receive and stall limits are
 * shortened here so that their expiry can be waited for.
 */

const RECEIVE_TIMEOUT_MS = 1500;
const STALL_TIMEOUT_MS = 1000;

let server: InProcessServer;
let workload: Workload;

beforeAll(async () => {
  server = await startInProcess(
    { workers: 2, maxSequences: 16, queueLength: 64, maxOutputTokens: 100_000, logLevel: "info" },
    { requestReceiveTimeoutMs: RECEIVE_TIMEOUT_MS, sseStallTimeoutMs: STALL_TIMEOUT_MS },
  );
  workload = await Workload.of(server.url);
});
afterAll(async () => {
  await server?.close();
});

const errorLines = () => server.logs.filter((line) => (line.level as number) >= 50);

describe("clients that misbehave", () => {
  it("disconnect mid-stream, all at once: every slot comes back and the queue empties", async () => {
    const result = await disconnectMidStream(server.url, workload, { clients: 64, maxTokens: 2000 });
    expect(result.streaming).toBe(32);
    expect(result.queued).toBe(32);
    expect(result.rejected).toBe(0);
    expect(result.idleAfterMs).not.toBeNull();
    expect(result.idleAfterMs!).toBeLessThan(2000);
    expect(result.cancelledByMetrics).toBe(32);
    expect(result.errorsByMetrics).toBe(0);
    expect(result.servesAfterwards).toBe(true);
    expect(errorLines()).toEqual([]);
  });

  it("read slowly: a steady reader gets its whole stream, one that never reads is paused, then dropped", async () => {
    const result = await slowReaders(server.url, workload, {
      slowTokens: 150,
      readEveryMs: 10,
      stallLimitMs: 45_000,
      maxTokens: 100_000,
    });
    expect(result.slowStreamComplete).toBe(true);
    expect(result.stalledDroppedAfterMs).not.toBeNull();
    // Generation paused once the sockets' buffers (a few thousand 2 KB events) were full, and
    // stopped with the drop: nothing piles up in the server for the reader.
    expect(result.stalledTokensGenerated).toBeLessThan(10_000);
    expect(result.tokensAfterDrop).toBe(0);
    expect(result.servesAfterwards).toBe(true);
  }, 60_000);

  it("send a request a byte at a time: it is answered normally", async () => {
    const result = await byteByByte(server.url, workload, 2);
    expect(result.byteByByteStatus).toBe(200);
    expect(result.byteByByteTokens).toBe(4);
  });

  it("open connections and send nothing, or stop half-way: each gets a 408 and is closed, others are served", async () => {
    const result = await silentClients(server.url, workload, { connections: 60, waitMs: 10_000 });
    expect(result.answered408).toBe(60);
    expect(result.lastClosedAfterMs).not.toBeNull();
    // The receive limit, plus Node's check interval, plus slack for a busy machine.
    expect(result.lastClosedAfterMs!).toBeLessThan(RECEIVE_TIMEOUT_MS + 1000 + 2000);
    expect(result.normalStatus).toBe(200);
  });

  it("pipeline many requests on one connection: every answer comes back, in order", async () => {
    const result = await pipelining(server.url, workload, 60);
    expect(result.mismatches).toEqual([]);
    expect(result.answeredInOrder).toBe(60);
    expect(result.refused).toBe(0);
    expect(await waitUntilIdle(server.url)).not.toBeNull();
  });
});
