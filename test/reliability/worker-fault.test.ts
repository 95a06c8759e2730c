import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerKill } from "../../loadtest/faults.js";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { Workload } from "../../loadtest/workload.js";

/**
 * A worker thread that dies in the middle of generation, three times over, with requests running
 * on both workers: the dead worker's requests end with an error, the others run to their end, the
 * pool replaces the worker, and the next request is served.
 */

const KILLS = 3;
let server: InProcessServer;
let workload: Workload;

beforeAll(async () => {
  server = await startInProcess({ workers: 2, maxSequences: 8, logLevel: "info" });
  workload = await Workload.of(server.url);
});
afterAll(async () => {
  await server?.close();
});

describe("a worker killed during generation", () => {
  for (let kill = 1; kill <= KILLS; kill++) {
    it(`takes only its own requests with it (kill ${kill} of ${KILLS})`, async () => {
      const result = await workerKill(server.url, workload, () => server.killWorker(0), {
        streams: 10,
        plain: 2,
        maxTokens: 300,
      });
      expect(result.other).toEqual([]);
      expect(result.failedWithWorker + result.completed).toBe(12);
      expect(result.failedWithWorker).toBeGreaterThan(0);
      expect(result.completed).toBeGreaterThan(0);
      expect(result.idleAfterMs).not.toBeNull();
      expect(result.servesAfterwards).toBe(true);
      expect(await server.metric("trine_worker_restarts_total")).toBe(kill);
      expect(server.app.trine.scheduler.workerPool!.threads.length).toBe(2);
    });
  }

  it("logs each failed request's crash under that request's id", () => {
    const crashes = server.logs.filter((line) => line.msg === "generation failed");
    expect(crashes.length).toBeGreaterThanOrEqual(KILLS);
    const answered = new Map(
      server.logs.filter((line) => line.msg === "request").map((line) => [line.reqId, line.statusCode]),
    );
    for (const crash of crashes) {
      expect(crash.reqId).toEqual(expect.any(String));
      expect(answered.has(crash.reqId)).toBe(true);
    }
  });
});
