import { rmSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { parseSse } from "../../loadtest/sse-events.js";
import { post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/** A worker thread that dies takes its requests with it, and only them. */

const dir = makeRandomTestModel();
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, workers: 1, maxOutputTokens: 1_000_000 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs until stopped: no end-of-text (id 1), no length limit in sight. */
const endless = (extra: Record<string, unknown> = {}) => ({
  model: server.config.modelName,
  prompt: "Once upon a time",
  max_tokens: 1_000_000,
  logit_bias: { "1": -100 },
  ...extra,
});

async function killWorker(): Promise<void> {
  await server.app.trine.scheduler.workerPool!.threads[0].terminate();
}

describe("a worker that dies", () => {
  it("ends a running stream with an error event and no [DONE]", async () => {
    const response = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(endless({ stream: true })),
    });
    const reader = response.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    await killWorker();
    for (let part = await reader.read(); !part.done; part = await reader.read())
      text += new TextDecoder().decode(part.value);
    const events = parseSse(text);
    expect(events.slice(0, -1).every((e) => e.data.startsWith('{"id":'))).toBe(true);
    const last = JSON.parse(events.at(-1)!.data);
    expect(last).toEqual({
      error: { message: expect.any(String), type: "server_error", param: null, code: "worker_crashed" },
    });
    expect(text).not.toContain("[DONE]");
  });

  it("makes the openai client's stream throw an APIError", async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    const stream = await client.completions.create({ ...endless(), stream: true });
    let chunks = 0;
    const consumed = (async () => {
      for await (const _ of stream) if (++chunks === 2) await killWorker();
    })();
    await expect(consumed).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(chunks).toBeGreaterThanOrEqual(2);
  });

  it("answers a request that was not streamed with 500 and no internals", async () => {
    const answer = post(server, "/v1/completions", endless());
    const before = await server.metric("trine_generation_tokens_total");
    while ((await server.metric("trine_generation_tokens_total")) === before)
      await new Promise((r) => setTimeout(r, 5));
    await killWorker();
    const { status, json, text } = await answer;
    expect(status).toBe(500);
    expect(json).toEqual({
      error: { message: expect.any(String), type: "server_error", param: null, code: "worker_crashed" },
    });
    expect(text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
  });

  it("is replaced: the server keeps serving and counts the restarts", async () => {
    const after = await post(server, "/v1/completions", {
      model: server.config.modelName,
      prompt: "Hello",
      max_tokens: 5,
    });
    expect(after.status).toBe(200);
    expect(await server.metric("trine_worker_restarts_total")).toBe(3);
    expect(await server.metric("trine_request_failures_total", { reason: "worker_crash" })).toBe(3);
    expect(await server.metric("trine_requests_total", { finish_reason: "error" })).toBe(3);
    // The slot comes back just after the answer's last byte.
    const until = Date.now() + 2000;
    while ((await server.metric("trine_sequence_slots_used")) !== 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 5));
    expect(await server.metric("trine_sequence_slots_used")).toBe(0);
  });
});
