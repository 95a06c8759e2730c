import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STACK_TRACE } from "../../loadtest/fuzz.js";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { openSocket, parseResponses, readUntilClosed } from "../../loadtest/raw-http.js";
import { loadAgent, streamRequest } from "../../loadtest/stream-client.js";
import { Workload } from "../../loadtest/workload.js";

/**
 * Security basics: keys where configured, no internals in answers, the body and prompt limits
 * applied before the expensive work, and request ids in the log.
 */

const KEY = "trine-test-key-0123456789";
let open: InProcessServer;
let keyed: InProcessServer;
let workload: Workload;

beforeAll(async () => {
  [open, keyed] = await Promise.all([
    startInProcess({ workers: 1, logLevel: "info" }),
    startInProcess({ workers: 1, apiKeys: [KEY, "another-key"], logLevel: "info" }),
  ]);
  workload = await Workload.of(open.url);
});
afterAll(async () => {
  await Promise.all([open?.close(), keyed?.close()]);
});

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const started = performance.now();
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: { error?: { code: string | null; param: string | null } } = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, text, json, ms: performance.now() - started };
}

describe("API keys", () => {
  const completion = () => ({ model: workload.model, prompt: "Once", max_tokens: 2 });

  it("are required on every API endpoint when configured: 401 with WWW-Authenticate otherwise", async () => {
    for (const [path, body] of [
      ["/v1/completions", completion()],
      ["/v1/chat/completions", { model: workload.model, messages: [{ role: "user", content: "Hi" }] }],
      ["/tokenize", { prompt: "Hi" }],
      ["/detokenize", { tokens: [1] }],
    ] as const) {
      for (const authorization of [undefined, "Bearer wrong-key", `Bearer ${KEY}x`, `Basic ${KEY}`, KEY]) {
        const answer = await post(keyed.url, path, body, authorization ? { authorization } : {});
        expect(answer.status, `${path} with ${authorization}`).toBe(401);
        expect(answer.headers.get("www-authenticate")).toBe("Bearer");
        expect(answer.json.error?.code).toBe("invalid_api_key");
        expect(answer.text).not.toContain(KEY);
      }
    }
    expect((await fetch(`${keyed.url}/v1/models`)).status).toBe(401);
  });

  it("let the right key through, and leave the probes and the scraper open", async () => {
    expect(
      (await post(keyed.url, "/v1/completions", completion(), { authorization: `Bearer ${KEY}` })).status,
    ).toBe(200);
    expect(
      (await post(keyed.url, "/v1/completions", completion(), { authorization: "bearer another-key" }))
        .status,
    ).toBe(200);
    for (const path of ["/health", "/ready", "/metrics"])
      expect((await fetch(`${keyed.url}${path}`)).status).toBe(200);
  });
});

describe("error answers", () => {
  it("never carry a stack trace or a source path", async () => {
    const answers = [
      await post(open.url, "/v1/completions", "{not json"),
      await post(open.url, "/v1/completions", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("latin1"), {
        "content-type": "application/json; charset=latin1",
      }),
      await post(open.url, "/v1/completions", { model: workload.model, prompt: 7 }),
      await post(open.url, "/v1/nothing-here", {}),
      await post(open.url, "/v1/completions", "x", { "content-type": "text/plain" }),
      await post(open.url, "/detokenize", { tokens: [2 ** 31] }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(answer.text).not.toMatch(STACK_TRACE);
      expect(Object.keys(answer.json)).toEqual(["error"]);
    }
  });
});

describe("limits applied before the expensive work", () => {
  it("refuses a body over --max-body-bytes from its Content-Length, before it has been sent", async () => {
    const socket = await openSocket(open.url);
    const reading = readUntilClosed(socket, 10_000);
    socket.write(
      "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
        `Content-Length: ${50 * 2 ** 20}\r\n\r\n{"prompt": "`,
    );
    const { text, closedAfterMs } = await reading;
    const [answer] = parseResponses(Buffer.from(text)).responses;
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe("request_too_large");
    expect(closedAfterMs!).toBeLessThan(2000);
  });

  it("refuses a chunked body once it passes the limit, without reading the rest", async () => {
    const socket = await openSocket(open.url);
    const reading = readUntilClosed(socket, 10_000);
    socket.write(
      "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    const chunk = "a".repeat(64 * 1024);
    // Up to 50 MiB offered; the answer must come after about 1 MiB.
    for (let i = 0; i < 800 && !socket.destroyed; i++) {
      if (!socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`))
        await new Promise((r) => setTimeout(r, 5));
    }
    const { text } = await reading;
    const [answer] = parseResponses(Buffer.from(text)).responses;
    expect(answer.status).toBe(413);
    expect(socket.bytesWritten).toBeLessThan(10 * 2 ** 20);
  });

  it("refuses a prompt far over --max-prompt-tokens without tokenizing it", async () => {
    // About 1 MB of text, within the body limit: tokenizing it took the main thread 1 to 5 s.
    const huge = "a".repeat(1_000_000);
    const cases = [
      await post(open.url, "/v1/completions", { model: workload.model, prompt: huge }),
      await post(open.url, "/v1/completions", { model: workload.model, prompt: ["Once", huge] }),
      await post(open.url, "/v1/chat/completions", {
        model: workload.model,
        messages: [{ role: "user", content: huge }],
      }),
      await post(open.url, "/tokenize", { prompt: huge }),
    ];
    for (const answer of cases) {
      expect(answer.status).toBe(400);
      expect(answer.json.error?.code).toBe("context_length_exceeded");
      expect(answer.ms).toBeLessThan(500);
    }
    expect(cases.map((answer) => answer.json.error?.param)).toEqual([
      "prompt",
      "prompt[1]",
      "messages",
      "prompt",
    ]);
  });

  it("refuses more prompts than slots before tokenizing any", async () => {
    const prompts = Array.from({ length: 20_000 }, (_, i) => `Story ${i} of the fox and the hen, told again`);
    const answer = await post(open.url, "/v1/completions", { model: workload.model, prompt: prompts });
    expect(answer.status).toBe(400);
    expect(answer.json.error?.param).toBe("prompt");
    expect(answer.ms).toBeLessThan(500);
  });

  it("so that a huge prompt does not stall the streams already running", async () => {
    const agent = loadAgent();
    const stream = streamRequest(agent, open.url, "/v1/completions", {
      ...workload.completion({ name: "long", promptWords: 8, maxTokens: 300 }),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 3; i++)
      await post(open.url, "/v1/completions", { model: workload.model, prompt: "a".repeat(1_000_000) });
    const record = await stream;
    await agent.close();
    expect(record.outcome).toBe("ok");
    expect(Math.max(...record.itlMs)).toBeLessThan(500);
  });
});

describe("prompts long enough to be worth tokenizing elsewhere", () => {
  it("are tokenized off the main thread, so the streams running meanwhile keep their pace", async () => {
    // Random words just under the byte bound that checkPromptText lets through: tokenized, then
    // refused as over --max-prompt-tokens. On the main thread each took 150 to 220 ms.
    const words = Array.from({ length: 20_000 }, (_, i) => (i * 7919).toString(36).slice(-1 - (i % 7)));
    const long = words.join(" ").slice(0, 55_000);
    const agent = loadAgent();
    const stream = streamRequest(agent, open.url, "/v1/completions", {
      ...workload.completion({ name: "long", promptWords: 8, maxTokens: 300 }),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 4; i++) {
      const answer = await post(open.url, "/v1/completions", {
        model: workload.model,
        prompt: `${i} ${long}`,
      });
      expect(answer.status).toBe(400);
      expect(answer.json.error?.code).toBe("context_length_exceeded");
    }
    const record = await stream;
    await agent.close();
    expect(record.outcome).toBe("ok");
    expect(Math.max(...record.itlMs)).toBeLessThan(100);
  });
});

describe("the log", () => {
  it("has one line per request under its id, the client's when it sent a plausible one, and no prompt text", async () => {
    const secret = "PINEAPPLE-SUBMARINE-42";
    const ok = await post(
      open.url,
      "/v1/completions",
      { model: workload.model, prompt: secret, max_tokens: 2 },
      {
        "x-request-id": "reliability-ok-1",
      },
    );
    const bad = await post(
      open.url,
      "/v1/completions",
      { model: workload.model, prompt: secret, top_p: 7 },
      {
        "x-request-id": "reliability-bad-1",
      },
    );
    const replaced = await post(
      open.url,
      "/tokenize",
      { prompt: "x" },
      { "x-request-id": "not a valid id!" },
    );
    expect(ok.headers.get("x-request-id")).toBe("reliability-ok-1");
    expect(bad.headers.get("x-request-id")).toBe("reliability-bad-1");
    const generated = replaced.headers.get("x-request-id")!;
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const lines = open.logs.filter((line) => line.msg === "request");
    expect(lines.find((line) => line.reqId === "reliability-ok-1")).toMatchObject({
      statusCode: 200,
      completionTokens: 2,
    });
    expect(lines.find((line) => line.reqId === "reliability-bad-1")).toMatchObject({ statusCode: 400 });
    expect(lines.find((line) => line.reqId === generated)).toMatchObject({
      statusCode: 200,
      url: "/tokenize",
    });
    expect(JSON.stringify(open.logs)).not.toContain(secret);
  });
});
