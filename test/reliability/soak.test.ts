import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerProcess } from "../../loadtest/server.js";
import { runSoak, type SoakResult } from "../../loadtest/soak.js";
import { Workload } from "../../loadtest/workload.js";

/**
 * The soak at CI scale: 45 s of steady mixed traffic (`npm run loadtest:soak` runs ten minutes).
 * The bounds are loose enough for a shared 2-core runner and tight enough for the leaks that
 * matter: a request's state kept for ever grows the heap by megabytes a minute at this rate.
 */

const DURATION_MS = Number(process.env.TRINE_SOAK_SECONDS ?? 45) * 1000;
let server: ServerProcess;
let result: SoakResult;

beforeAll(async () => {
  server = await ServerProcess.start({ flags: { "--workers": 2, "--grace-period": 1 } });
  result = await runSoak(server, await Workload.of(server.url), {
    durationMs: DURATION_MS,
    warmupMs: Math.min(15_000, DURATION_MS / 3),
    streamingClients: 6,
    heapWindowMs: 5000,
  });
}, DURATION_MS + 120_000);
afterAll(async () => {
  await server?.stop();
});

describe("steady mixed traffic", () => {
  it("is all served as it should be", () => {
    expect(result.unexpected).toEqual([]);
    for (const kind of ["stream", "chat", "disconnect", "invalid", "tokenize"])
      expect(result.requests[kind]).toBeGreaterThan(0);
  });

  it("leaves no slot taken and the server's counts equal to the clients'", () => {
    expect(result.idleAfterMs).not.toBeNull();
    expect(result.slotsUsedAfter).toBe(0);
    expect(result.endedByMetrics).toBe(result.endedByClients);
  });

  it("keeps the heap and resident memory flat after the warm-up", () => {
    expect(result.heapSlopeMiBPerMin).toBeLessThan(10);
    expect(result.rssSlopeMiBPerMin).toBeLessThan(100);
  });

  it("keeps the event loop responsive", () => {
    expect(result.lagP99Ms).toBeLessThan(150);
  });
});
