import { rmSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { parseSse } from "../../loadtest/sse-events.js";
import { SseStream } from "../../src/server/sse.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

const dir = makeRandomTestModel();
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, workers: 1 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The raw bytes of a streamed answer, split into its events. */
async function rawStream(path: string, body: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "sse-test-1" },
    body: JSON.stringify(body),
  });
  const raw = await response.text();
  expect(raw.endsWith("\n\n")).toBe(true);
  return { response, raw, events: raw.slice(0, -2).split("\n\n") };
}

describe("the SSE byte stream", () => {
  it("is data: lines of compact JSON, each ended by a blank line, then data: [DONE]", async () => {
    const { response, raw, events } = await rawStream("/v1/completions", {
      model: server.config.modelName,
      prompt: "Once upon a time",
      max_tokens: 12,
      seed: 1,
      stream: true,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("x-request-id")).toBe("sse-test-1");
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((event) => {
      expect(event.startsWith("data: ")).toBe(true);
      return JSON.parse(event.slice("data: ".length));
    });
    // Exactly these bytes: no other fields, no pretty-printing, nothing between events.
    expect(raw).toBe(`${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const chunk of chunks) {
      expect(Object.keys(chunk)).toEqual(["id", "object", "created", "model", "choices"]);
      expect(chunk.object).toBe("text_completion");
      expect(chunk.model).toBe(server.config.modelName);
      expect(chunk.choices).toHaveLength(1);
      expect(chunk.choices[0].index).toBe(0);
    }
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    expect(["stop", "length"]).toContain(chunks.at(-1).choices[0].finish_reason);
  });

  it("opens a chat stream with the role and adds usage: null to every chunk when usage is asked", async () => {
    const { raw } = await rawStream("/v1/chat/completions", {
      model: server.config.modelName,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = parseSse(raw)
      .slice(0, -1)
      .map((event) => JSON.parse(event.data));
    expect(chunks[0].choices[0]).toEqual({
      index: 0,
      delta: { role: "assistant", content: "" },
      logprobs: null,
      finish_reason: null,
    });
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.object === "chat.completion.chunk")).toBe(
      true,
    );
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBeGreaterThan(0);
    expect(chunks.at(-2).choices[0].delta).toEqual({});
  });
});

/** A plain HTTP server whose handler gets an SseStream, and a GET to it. */
async function withSseServer(handler: (sse: SseStream, response: ServerResponse) => Promise<void>) {
  const http = createServer((_request, response) => void handler(new SseStream(response, {}, 20), response));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  const response = await new Promise<IncomingMessage>((resolve) =>
    httpRequest({ host: "127.0.0.1", port, path: "/" }, resolve).end(),
  );
  return { response, close: () => new Promise((resolve) => http.close(resolve)) };
}

async function readAll(response: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of response) text += chunk;
  return text;
}

describe("SseStream", () => {
  it("sends a keep-alive comment while nothing else is sent", async () => {
    const { response, close } = await withSseServer(async (sse) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await sse.send(JSON.stringify({ hello: 1 }));
      await sse.done();
    });
    const text = await readAll(response);
    const [comments, rest] = [text.slice(0, text.indexOf("data:")), text.slice(text.indexOf("data:"))];
    expect(comments.split(": keep-alive\n\n").length - 1).toBeGreaterThanOrEqual(2);
    expect(comments.replaceAll(": keep-alive\n\n", "")).toBe("");
    expect(rest).toBe('data: {"hello":1}\n\ndata: [DONE]\n\n');
    await close();
  });

  it("waits for a slow reader instead of buffering: send resolves only when the socket drains", async () => {
    const chunk = JSON.stringify({ text: "x".repeat(64 * 1024) });
    const isPending = (promise: Promise<void>) =>
      Promise.race([
        promise.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(resolve, 100, true)),
      ]);
    let sentBeforeBlocking = 0;
    let bufferedWhenBlocked = 0;
    let reachedBackPressure!: () => void;
    const backPressure = new Promise<void>((resolve) => (reachedBackPressure = resolve));
    const { response, close } = await withSseServer(async (sse, serverResponse) => {
      for (;;) {
        const send = sse.send(chunk);
        if (await isPending(send)) {
          bufferedWhenBlocked = serverResponse.writableLength;
          reachedBackPressure();
          await send;
          break;
        }
        sentBeforeBlocking++;
      }
      await sse.done();
    });
    // The client reads nothing until the server is blocked.
    await backPressure;
    // The kernel's socket buffers take some; beyond them at most about one chunk waits in Node.
    expect(sentBeforeBlocking).toBeLessThan(200);
    expect(bufferedWhenBlocked).toBeLessThanOrEqual(2 * (64 * 1024 + 32));
    const events = parseSse(await readAll(response));
    expect(events).toHaveLength(sentBeforeBlocking + 2);
    expect(events.at(-1)?.data).toBe("[DONE]");
    await close();
  });
});

describe("SseStream's named events", () => {
  it("writes an event: line before the data when the event has a name, and can end without [DONE]", async () => {
    const { response, close } = await withSseServer(async (sse) => {
      await sse.send(JSON.stringify({ type: "response.created" }), "response.created");
      await sse.send(JSON.stringify({ plain: true }));
      await sse.done(false);
    });
    expect(await readAll(response)).toBe(
      'event: response.created\ndata: {"type":"response.created"}\n\ndata: {"plain":true}\n\n',
    );
    await close();
  });
});
