import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { MetricsScrape } from "../../loadtest/metrics.js";
import { openSocket, parseResponses, requestBytes } from "../../loadtest/raw-http.js";
import { sleep } from "../../loadtest/stats.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/**
 * A client that stops reading holds its slot until its stream has been written: the server does
 * not free the slot for others while the finished output waits in memory for this client. A tiny
 * random model generates fast enough to fill the sockets' buffers (megabytes) in a second or two.
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

const metrics = () => MetricsScrape.from(server.url);

describe("a client that stops reading", () => {
  it("keeps its slot until it has read its stream, so that admission, not memory, absorbs it", async () => {
    const socket = await openSocket(server.url);
    socket.pause();
    // About 1.5 KB an event with 20 alternatives each: some 10 MB, more than the sockets buffer.
    const tokens = 7000;
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
    // The worker generates every token and lets go of the sequence...
    for (let i = 0; i < 600; i++) {
      if ((await metrics()).value("trine_requests_total", { finish_reason: "length" }) === 1) break;
      await sleep(50);
    }
    const generated = await metrics();
    expect(generated.value("trine_requests_total", { finish_reason: "length" })).toBe(1);
    // ...but the answer is still being written: the request keeps its slot.
    expect(generated.value("trine_sequence_slots_used")).toBe(1);
    expect(generated.value("trine_requests_running")).toBe(1);

    // Reading it all ends the stream and gives the slot back.
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.resume();
    for (let i = 0; i < 600 && parseResponses(Buffer.concat(received)).responses.length === 0; i++)
      await sleep(50);
    socket.destroy();
    const [response] = parseResponses(Buffer.concat(received)).responses;
    expect(response.body.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(
      response.body.split("\n\n").filter((event) => event.includes('"finish_reason":null')).length,
    ).toBeGreaterThan(tokens * 0.9);
    for (let i = 0; i < 100 && (await metrics()).value("trine_sequence_slots_used") > 0; i++) await sleep(20);
    expect((await metrics()).value("trine_sequence_slots_used")).toBe(0);
  }, 60_000);
});
