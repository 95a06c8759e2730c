import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { openSocket, parseResponses, requestBytes } from "../../loadtest/raw-http.js";
import { parseSse } from "../../loadtest/sse-events.js";
import { sleep } from "../../loadtest/stats.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/**
 * A client that stops reading: once the sockets' buffers are full (megabytes, a few thousand
 * events with logprobs) and a few dozen more events wait in the server, its generation pauses at
 * the worker, holding its slot but neither step time nor more memory. Reading again resumes it,
 * and the client gets its whole stream. A tiny random model fills the buffers in a second or two.
 */

const dir = makeRandomTestModel();
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess(
    {
      modelDir: dir,
      modelName: "tiny",
      workers: 1,
      maxSequences: 2,
      queueLength: 4,
      maxOutputTokens: 1_000_000,
    },
    { sseStallTimeoutMs: 60_000 },
  );
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const generatedTokens = () => server.metric("trine_generation_tokens_total");

describe("a client that stops reading", () => {
  it("has its generation paused, not buffered, and resumed when it reads again", async () => {
    const socket = await openSocket(server.url);
    socket.pause();
    // About 1.5 KB an event with 20 alternatives each: some 45 MB, far more than the sockets buffer.
    const tokens = 30_000;
    socket.write(
      requestBytes("POST", "/v1/completions", {
        model: "tiny",
        prompt: "Once upon a time",
        max_tokens: tokens,
        logprobs: 20,
        logit_bias: { "1": -100 },
        stream: true,
      }),
    );
    // Generation runs until the buffers are full, then stops: the count holds still for a second.
    let generated = -1;
    for (let i = 0; i < 60; i++) {
      await sleep(1000);
      const now = await generatedTokens();
      if (now === generated && now > 0) break;
      generated = now;
    }
    expect(await generatedTokens()).toBe(generated);
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(tokens / 2);
    expect(await server.metric("trine_requests_running")).toBe(1);
    expect(await server.metric("trine_sequence_slots_used")).toBe(1);

    // Reading again resumes it: the whole stream arrives, then the slot comes back.
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.resume();
    for (let i = 0; i < 1200 && parseResponses(Buffer.concat(received)).responses.length === 0; i++)
      await sleep(50);
    socket.destroy();
    const [response] = parseResponses(Buffer.concat(received)).responses;
    const events = parseSse(response.body).map((event) => event.data);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1);
    // One event a token, then the one that carries the finish reason.
    expect(chunks.filter((chunk) => chunk.includes('"finish_reason":null')).length).toBe(tokens);
    expect(chunks.at(-1)).toContain('"finish_reason":"length"');
    for (let i = 0; i < 100 && (await server.metric("trine_sequence_slots_used")) > 0; i++) await sleep(20);
    expect(await server.metric("trine_sequence_slots_used")).toBe(0);
  }, 120_000);
});
