import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { get, post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/**
 * Every error the API answers, as status and OpenAI error object: {error: {message, type,
 * param, code}}, never a stack trace.
 */

const dir = makeRandomTestModel();
const MODEL = "test-model";
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess({
    modelDir: dir,
    modelName: MODEL,
    maxSequences: 4,
    maxPromptTokens: 64,
    maxOutputTokens: 100,
    maxBodyBytes: 4096,
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type Answer = Awaited<ReturnType<typeof post>>;

function expectError(
  answer: Answer,
  status: number,
  fields: { type?: string; param?: string | null; code?: string | null },
) {
  expect(answer.status, answer.text).toBe(status);
  expect(Object.keys(answer.json)).toEqual(["error"]);
  expect(Object.keys(answer.json.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(typeof answer.json.error.message).toBe("string");
  expect(answer.json.error.message.length).toBeGreaterThan(5);
  expect(answer.text).not.toMatch(/\n\s+at |\.ts:\d+/);
  expect(answer.json.error).toMatchObject({ type: "invalid_request_error", ...fields });
}

const completion = (extra: Record<string, unknown>) => ({
  model: MODEL,
  prompt: "Hello",
  max_tokens: 2,
  ...extra,
});
const chat = (extra: Record<string, unknown>) => ({
  model: MODEL,
  messages: [{ role: "user", content: "Hello" }],
  max_tokens: 2,
  ...extra,
});

describe("malformed bodies", () => {
  it("refuses JSON that does not parse", async () => {
    expectError(await post(server, "/v1/completions", '{"model": "test-model", "prompt": '), 400, {
      param: null,
      code: "invalid_json",
    });
  });

  it("refuses an empty body", async () => {
    expectError(await post(server, "/v1/completions", ""), 400, { code: "invalid_json" });
  });

  it("refuses a body that is not UTF-8 rather than guessing", async () => {
    const bytes = new TextEncoder().encode('{"model": "test-model", "prompt": "caf?"}');
    bytes[bytes.indexOf("?".charCodeAt(0))] = 0xe9; // Latin-1 é: invalid as UTF-8
    expectError(await post(server, "/v1/completions", bytes), 400, { code: "invalid_encoding" });
  });

  it("refuses a body that is JSON but not an object", async () => {
    expectError(await post(server, "/v1/completions", "[1, 2]"), 400, { code: "invalid_type" });
  });

  it("answers 413 for a body over the limit", async () => {
    expectError(await post(server, "/v1/completions", completion({ prompt: "a".repeat(5000) })), 413, {
      code: "request_too_large",
    });
  });

  it("answers 415 for a body that is not JSON", async () => {
    expectError(await post(server, "/v1/completions", "hello", { "content-type": "text/plain" }), 415, {
      code: "unsupported_media_type",
    });
  });
});

describe("schema violations, remapped to the field", () => {
  const cases: [string, string, Record<string, unknown>, string, string][] = [
    [
      "a string for an integer",
      "/v1/completions",
      completion({ max_tokens: "ten" }),
      "max_tokens",
      "invalid_type",
    ],
    ["a number for a prompt", "/v1/completions", completion({ prompt: 5 }), "prompt", "invalid_type"],
    ["a non-string stop", "/v1/completions", completion({ stop: [1] }), "stop[0]", "invalid_type"],
    ["a fractional n", "/v1/completions", completion({ n: 1.5 }), "n", "invalid_type"],
    [
      "a number for message content",
      "/v1/chat/completions",
      chat({ messages: [{ role: "user", content: 5 }] }),
      "messages[0].content",
      "invalid_type",
    ],
    [
      "an unknown role",
      "/v1/chat/completions",
      chat({ messages: [{ role: "function", content: "x" }] }),
      "messages[0].role",
      "invalid_value",
    ],
    ["a missing model", "/v1/completions", { prompt: "x" }, "model", "missing_required_parameter"],
    ["an unknown field", "/v1/completions", completion({ foo: 1 }), "foo", "unknown_parameter"],
    [
      "an unknown nested field",
      "/v1/completions",
      completion({ stream_options: { bogus: true } }),
      "stream_options.bogus",
      "unknown_parameter",
    ],
    [
      "an unknown chat field",
      "/v1/chat/completions",
      chat({ guided_json: {} }),
      "guided_json",
      "unknown_parameter",
    ],
    [
      "an unknown message field",
      "/v1/chat/completions",
      chat({ messages: [{ role: "user", content: "x", audio: { id: "1" } }] }),
      "messages[0].audio",
      "unknown_parameter",
    ],
    ["an empty messages list", "/v1/chat/completions", chat({ messages: [] }), "messages", "invalid_value"],
  ];
  it.each(cases)("refuses %s", async (_name, path, body, param, code) => {
    const answer = await post(server, path, body);
    expectError(answer, 400, { param, code });
    if (code === "unknown_parameter")
      expect(answer.json.error.message).toBe(`Unrecognized request argument supplied: ${param}`);
  });
});

describe("values out of range", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["negative max_tokens", completion({ max_tokens: -1 }), "max_tokens"],
    ["max_tokens over the server's cap", completion({ max_tokens: 1_000_000_000 }), "max_tokens"],
    ["negative temperature", completion({ temperature: -0.5 }), "temperature"],
    ["absurd temperature", completion({ temperature: 1e308 }), "temperature"],
    ["top_p of 0", completion({ top_p: 0 }), "top_p"],
    ["negative top_k", completion({ top_k: -3 }), "top_k"],
    ["presence_penalty of 5", completion({ presence_penalty: 5 }), "presence_penalty"],
    ["an unsafe seed", completion({ seed: 1e30 }), "seed"],
    ["n of 0", completion({ n: 0 }), "n"],
    ["n beyond the sequence slots", completion({ n: 100 }), "n"],
    ["logprobs of 50", completion({ logprobs: 50 }), "logprobs"],
    ["a logit_bias key outside the vocabulary", completion({ logit_bias: { "99999": 1 } }), "logit_bias"],
    ["a logit_bias of 1000", completion({ logit_bias: { "5": 1000 } }), "logit_bias"],
    ["17 stop strings", completion({ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }), "stop"],
  ];
  it.each(cases)("refuses %s naming the field", async (_name, body, param) => {
    expectError(await post(server, "/v1/completions", body), 400, { param, code: "invalid_value" });
  });

  it("names chat's own spelling of the limits", async () => {
    expectError(await post(server, "/v1/chat/completions", chat({ max_completion_tokens: 0 })), 400, {
      param: "max_completion_tokens",
    });
    expectError(await post(server, "/v1/chat/completions", chat({ logprobs: true, top_logprobs: 21 })), 400, {
      param: "top_logprobs",
    });
    expectError(await post(server, "/v1/chat/completions", chat({ top_logprobs: 2 })), 400, {
      param: "top_logprobs",
    });
  });
});

describe("parameters that would change the output and are not implemented", () => {
  const cases: [string, string, Record<string, unknown>, string][] = [
    ["suffix", "/v1/completions", completion({ suffix: "the end" }), "suffix"],
    ["echo on chat", "/v1/chat/completions", chat({ echo: true }), "echo"],
    ["audio output", "/v1/chat/completions", chat({ modalities: ["text", "audio"] }), "modalities"],
    ["reasoning effort", "/v1/chat/completions", chat({ reasoning_effort: "high" }), "reasoning_effort"],
    [
      "an image part",
      "/v1/chat/completions",
      chat({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }),
      "messages[0].content[0].type",
    ],
  ];
  it.each(cases)("refuses %s naming the parameter", async (_name, path, body, param) => {
    expectError(await post(server, path, body), 400, { param, code: "unsupported_parameter" });
  });

  it("accepts fields that change nothing, and the values that ask for nothing", async () => {
    const fine = [
      await post(
        server,
        "/v1/completions",
        completion({ best_of: 1, suffix: null, user: "u1", metadata: { a: "b" }, store: false }),
      ),
      await post(
        server,
        "/v1/chat/completions",
        chat({
          tools: [],
          tool_choice: "none",
          response_format: { type: "text" },
          modalities: ["text"],
          parallel_tool_calls: false,
          service_tier: "auto",
        }),
      ),
      await post(
        server,
        "/v1/chat/completions",
        chat({ messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }] }),
      ),
    ];
    expect(fine.map((answer) => answer.status)).toEqual([200, 200, 200]);
  });
});

describe("limits and lookups", () => {
  it("answers context_length_exceeded for a prompt over the limit", async () => {
    const long = "word ".repeat(200);
    expectError(await post(server, "/v1/completions", completion({ prompt: long })), 400, {
      param: "prompt",
      code: "context_length_exceeded",
    });
    expectError(await post(server, "/v1/completions", completion({ prompt: ["ok", long] })), 400, {
      param: "prompt[1]",
      code: "context_length_exceeded",
    });
    expectError(
      await post(server, "/v1/chat/completions", chat({ messages: [{ role: "user", content: long }] })),
      400,
      {
        param: "messages",
        code: "context_length_exceeded",
      },
    );
  });

  it("answers 404 for an unknown model", async () => {
    expectError(await post(server, "/v1/completions", completion({ model: "gpt-4" })), 404, {
      param: "model",
      code: "model_not_found",
    });
    expectError(await post(server, "/v1/chat/completions", chat({ model: "gpt-4" })), 404, {
      code: "model_not_found",
    });
    expectError(await get(server, "/v1/models/gpt-4"), 404, { param: "model", code: "model_not_found" });
  });

  it("answers 404 for an unknown endpoint", async () => {
    expectError(await post(server, "/v1/engines", {}), 404, { code: "not_found" });
  });

  it("refuses token ids outside the vocabulary and ambiguous tokenize requests", async () => {
    expectError(await post(server, "/detokenize", { tokens: [5, 100000] }), 400, { param: "tokens" });
    expectError(
      await post(server, "/tokenize", { prompt: "x", messages: [{ role: "user", content: "x" }] }),
      400,
      {
        param: "messages",
      },
    );
  });

  it("counts refused requests by reason", async () => {
    expect(
      await server.metric("trine_request_failures_total", { reason: "invalid_request" }),
    ).toBeGreaterThan(10);
  });
});

describe("authentication", () => {
  it("demands one of the configured keys on the API, but not on health, ready, metrics or docs", async () => {
    const guarded = await startInProcess({
      modelDir: dir,
      modelName: MODEL,
      apiKeys: ["key-one", "key-two"],
    });
    try {
      const models = (headers: Record<string, string>) => get(guarded, "/v1/models", headers);
      const missing = await models({});
      expectError(missing, 401, { code: "invalid_api_key", param: null });
      expect(missing.headers.get("www-authenticate")).toBe("Bearer");
      const wrong = await post(guarded, "/v1/completions", completion({}), {
        authorization: "Bearer key-three",
      });
      expectError(wrong, 401, { code: "invalid_api_key", param: null });
      expect(wrong.json.error.message).toBe("Incorrect API key provided.");
      expect((await models({ authorization: "Bearer key-one" })).status).toBe(200);
      expect((await models({ authorization: "Bearer key-two" })).status).toBe(200);
      expect((await post(guarded, "/tokenize", { prompt: "x" })).status).toBe(401);
      for (const path of ["/health", "/ready", "/metrics", "/docs/json"]) {
        expect((await fetch(`${guarded.url}${path}`)).status, path).toBe(200);
      }
      expect(await guarded.metric("trine_request_failures_total", { reason: "unauthorized" })).toBe(3);
    } finally {
      await guarded.close();
    }
  });
});

describe("admission: 429 when the queue is full, 503 when not ready", () => {
  it("answers 429 with Retry-After when the queue is full, and after the wait times out", async () => {
    const busy = await startInProcess({
      modelDir: dir,
      modelName: MODEL,
      maxSequences: 1,
      queueLength: 1,
      queueTimeoutMs: 300,
      maxOutputTokens: 1_000_000,
    });
    try {
      const controller = new AbortController();
      const running = await fetch(`${busy.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // Without eos (id 1) it runs until aborted.
        body: JSON.stringify(completion({ max_tokens: 1_000_000, stream: true, logit_bias: { "1": -100 } })),
        signal: controller.signal,
      });
      expect(running.status).toBe(200);
      const queued = post(busy, "/v1/completions", completion({}));
      while ((await busy.metric("trine_requests_waiting")) === 0) await new Promise((r) => setTimeout(r, 5));
      expect((await fetch(`${busy.url}/ready`)).status).toBe(503);

      const full = await post(busy, "/v1/completions", completion({}));
      expectError(full, 429, { type: "rate_limit_error", code: "queue_full" });
      expect(full.headers.get("retry-after")).toBe("1");

      const timedOut = await queued;
      expectError(timedOut, 429, { type: "rate_limit_error", code: "queue_timeout" });
      expect(timedOut.headers.get("retry-after")).toBe("1");
      controller.abort();
      expect(await busy.metric("trine_request_failures_total", { reason: "queue_full" })).toBe(1);
      expect(await busy.metric("trine_request_failures_total", { reason: "queue_timeout" })).toBe(1);
    } finally {
      await busy.close();
    }
  });

  it("answers 503 while the model loads, with /health up and /ready down", async () => {
    const loading = await startInProcess({ modelDir: dir, modelName: MODEL }, { load: false });
    try {
      const answer = await post(loading, "/v1/completions", completion({}));
      expectError(answer, 503, { type: "service_unavailable_error", code: "loading" });
      expect((await fetch(`${loading.url}/health`)).status).toBe(200);
      expectError(await get(loading, "/ready"), 503, { type: "service_unavailable_error", code: "loading" });
    } finally {
      await loading.close();
    }
  });

  it("answers 503 to new requests while draining, and lets the running stream finish", async () => {
    const draining = await startInProcess({ modelDir: dir, modelName: MODEL, maxOutputTokens: 400 });
    try {
      const stream = await fetch(`${draining.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(completion({ max_tokens: 400, stream: true, logit_bias: { "1": -100 } })),
      });
      const reader = stream.body!.getReader();
      await reader.read();
      const drained = draining.app.trine.scheduler.drain(30_000);
      const refused = await post(draining, "/v1/chat/completions", chat({}));
      expectError(refused, 503, { type: "service_unavailable_error", code: "draining" });
      expect((await fetch(`${draining.url}/ready`)).status).toBe(503);
      let rest = "";
      for (let part = await reader.read(); !part.done; part = await reader.read())
        rest += new TextDecoder().decode(part.value);
      expect(rest.endsWith("data: [DONE]\n\n")).toBe(true);
      expect(rest).toContain('"finish_reason":"length"');
      await drained;
    } finally {
      await draining.close();
    }
  });
});
