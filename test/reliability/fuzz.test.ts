import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUZZ_SERVER_FLAGS, fuzz } from "../../loadtest/fuzz.js";
import { ServerProcess } from "../../loadtest/server.js";

/**
 * Bad input, property-based (loadtest/fuzz.ts): a few hundred cases here, 10,000 with
 * `npm run loadtest:fuzz`. TRINE_FUZZ_RUNS and TRINE_FUZZ_SEED change the count and replay a seed.
 */

const RUNS = Number(process.env.TRINE_FUZZ_RUNS ?? 500);
let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start({
    flags: { ...FUZZ_SERVER_FLAGS, "--grace-period": 1 },
    captureLogs: true,
  });
});
afterAll(async () => {
  await server?.stop();
});

describe("random and hostile requests", () => {
  it(`get a valid answer or a well-formed OpenAI error, never a 500 or a hang (${RUNS} cases)`, async () => {
    const seed = process.env.TRINE_FUZZ_SEED === undefined ? undefined : Number(process.env.TRINE_FUZZ_SEED);
    const report = await fuzz({ baseUrl: server.url, model: "storyteller", runs: RUNS, seed });
    expect(report.cases).toBe(RUNS);
    // Both sides were exercised: served requests and refused ones.
    expect(report.byStatus[200]).toBeGreaterThan(RUNS / 10);
    expect(report.byStatus[400]).toBeGreaterThan(RUNS / 10);
  }, 600_000);

  it("leave the server up, idle and with nothing unexpected in its log", async () => {
    expect(server.exit).toBeUndefined();
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const unexpected = server.logs.filter((line) => (line.level as number) >= 50);
    expect(unexpected).toEqual([]);
  });
});
