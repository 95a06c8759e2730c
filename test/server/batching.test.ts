import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { parseSse } from "../../loadtest/sse-events.js";
import { post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/**
 * Continuous batching through the whole server: 16 streams at once, sharing one worker's forward
 * passes, give each the text it gets alone. The throughput of both is printed, not asserted: on
 * a shared CI machine the ratio says more about the neighbours than about the server.
 */

const STREAMS = 16;
const TOKENS = 48;
const dir = makeRandomTestModel({ hiddenSize: 256, numLayers: 4 });
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, workers: 1, maxSequences: STREAMS, prefixCacheEntries: 0 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One streamed completion, its text put together from the chunks. */
async function streamedText(i: number): Promise<string> {
  const answer = await post(server, "/v1/completions", {
    model: server.config.modelName,
    prompt: `Story number ${i}: once upon a time`,
    max_tokens: TOKENS,
    seed: 1000 + i,
    temperature: 0.9,
    // No end-of-text (id 1): every stream makes exactly TOKENS tokens.
    logit_bias: { "1": -100 },
    stream: true,
  });
  expect(answer.status).toBe(200);
  const events = parseSse(answer.text);
  expect(events.at(-1)?.data).toBe("[DONE]");
  return events
    .slice(0, -1)
    .map((event) => JSON.parse(event.data).choices[0].text)
    .join("");
}

describe("continuous batching", () => {
  it("gives 16 concurrent streams the texts of 16 sequential runs", async () => {
    await streamedText(-1); // warm-up: the worker's first step allocates its scratch

    let started = performance.now();
    const sequential: string[] = [];
    for (let i = 0; i < STREAMS; i++) sequential.push(await streamedText(i));
    const sequentialSeconds = (performance.now() - started) / 1000;

    started = performance.now();
    const concurrent = await Promise.all(Array.from({ length: STREAMS }, (_, i) => streamedText(i)));
    const concurrentSeconds = (performance.now() - started) / 1000;

    expect(concurrent).toEqual(sequential);
    const tokens = STREAMS * TOKENS;
    const speedUp = sequentialSeconds / concurrentSeconds;
    console.log(
      `continuous batching (${server.app.trine.scheduler.workerPool?.kernel}, d=256, 4 layers, 1 worker): ` +
        `${STREAMS} x ${TOKENS} tokens: sequential ${(tokens / sequentialSeconds).toFixed(0)} tok/s, ` +
        `concurrent ${(tokens / concurrentSeconds).toFixed(0)} tok/s (x${speedUp.toFixed(2)})`,
    );
  });
});
