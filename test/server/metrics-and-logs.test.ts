import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { MetricsScrape } from "../../loadtest/metrics.js";
import { get, post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

const dir = makeRandomTestModel();
let server: InProcessServer;
const SECRET_PROMPT = "the secret prompt text";

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, workers: 1, maxSequences: 3, logLevel: "info" });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const METRICS: [string, "histogram" | "counter" | "gauge"][] = [
  ["trine_time_to_first_token_seconds", "histogram"],
  ["trine_inter_token_latency_seconds", "histogram"],
  ["trine_e2e_request_latency_seconds", "histogram"],
  ["trine_request_queue_time_seconds", "histogram"],
  ["trine_request_prefill_time_seconds", "histogram"],
  ["trine_prompt_tokens_total", "counter"],
  ["trine_generation_tokens_total", "counter"],
  ["trine_requests_total", "counter"],
  ["trine_request_failures_total", "counter"],
  ["trine_prefix_cache_queries_total", "counter"],
  ["trine_prefix_cache_hits_total", "counter"],
  ["trine_prefix_cache_hit_tokens_total", "counter"],
  ["trine_worker_restarts_total", "counter"],
  ["trine_constrained_requests_total", "counter"],
  ["trine_grammar_compile_seconds", "histogram"],
  ["trine_grammar_cache_lookups_total", "counter"],
  ["trine_state_store_operations_total", "counter"],
  ["trine_state_store_operation_seconds", "histogram"],
  ["trine_state_store_written_bytes_total", "counter"],
  ["trine_conversation_starts_total", "counter"],
  ["trine_chat_reply_state_lookups_total", "counter"],
  ["trine_state_store_up", "gauge"],
  ["trine_state_store_records", "gauge"],
  ["trine_state_store_bytes", "gauge"],
  ["trine_requests_running", "gauge"],
  ["trine_requests_waiting", "gauge"],
  ["trine_sequence_slots_used", "gauge"],
  ["trine_sequence_slots_total", "gauge"],
  ["trine_generation_tokens_per_second", "gauge"],
  ["trine_memory_bytes", "gauge"],
  ["trine_model_weight_bytes", "gauge"],
  ["trine_build_info", "gauge"],
];

describe("/metrics", () => {
  it("exports every documented metric, each with the model label and nothing unlisted", async () => {
    const { status, text, headers } = await get(server, "/metrics");
    expect(status).toBe(200);
    expect(headers.get("content-type")).toContain("text/plain");
    const scrape = MetricsScrape.parse(text);
    expect(scrape.types).toEqual(Object.fromEntries(METRICS));
    for (const sample of scrape.samples) expect(sample.labels.model).toBe(server.config.modelName);
    const documented = readFileSync(join(import.meta.dirname, "..", "..", "docs", "METRICS.md"), "utf8");
    for (const [name] of METRICS) expect(documented).toContain(`\`${name}\``);
  });

  it("counts tokens, requests and timings as requests run", async () => {
    const answers = await Promise.all(
      [1, 2, 3].map((seed) =>
        post(server, "/v1/completions", {
          model: server.config.modelName,
          prompt: `Count ${seed}`,
          max_tokens: 7,
          seed,
        }),
      ),
    );
    const usage = answers.map((a) => a.json.usage);
    const sum = (key: string) => usage.reduce((total, u) => total + u[key], 0);
    expect(await server.metric("trine_prompt_tokens_total")).toBe(sum("prompt_tokens"));
    expect(await server.metric("trine_generation_tokens_total")).toBe(sum("completion_tokens"));
    const finished =
      (await server.metric("trine_requests_total", { finish_reason: "stop" })) +
      (await server.metric("trine_requests_total", { finish_reason: "length" }));
    expect(finished).toBe(3);
    expect(await server.metric("trine_time_to_first_token_seconds_count")).toBe(3);
    expect(await server.metric("trine_e2e_request_latency_seconds_count")).toBe(3);
    expect(await server.metric("trine_request_queue_time_seconds_count")).toBe(3);
    expect(await server.metric("trine_request_prefill_time_seconds_count")).toBe(3);
    expect(await server.metric("trine_inter_token_latency_seconds_count")).toBe(sum("completion_tokens") - 3);
    expect(await server.metric("trine_prefix_cache_queries_total")).toBe(3);
    expect(await server.metric("trine_generation_tokens_per_second")).toBeGreaterThan(0);
    expect(await server.metric("trine_requests_running")).toBe(0);
    expect(await server.metric("trine_sequence_slots_total")).toBe(3);
    expect(await server.metric("trine_model_weight_bytes")).toBeGreaterThan(100_000);
    for (const kind of ["rss", "heap_used", "heap_total", "external", "array_buffers"]) {
      expect(await server.metric("trine_memory_bytes", { kind })).toBeGreaterThan(0);
    }
    const kernel = server.app.trine.scheduler.workerPool!.kernel;
    expect(
      await server.metric("trine_build_info", {
        version: "0.1.0",
        kernel,
        node_version: process.versions.node,
      }),
    ).toBe(1);
  });

  it("uses vLLM's buckets (once requests have been observed)", async () => {
    const scrape = MetricsScrape.parse((await get(server, "/metrics")).text);
    const bounds = (name: string) => scrape.series(`${name}_bucket`).map((sample) => sample.labels.le);
    expect(bounds("trine_time_to_first_token_seconds").slice(0, 4)).toEqual([
      "0.001",
      "0.005",
      "0.01",
      "0.02",
    ]);
    expect(bounds("trine_time_to_first_token_seconds").at(-2)).toBe("2560");
    expect(bounds("trine_inter_token_latency_seconds").at(-2)).toBe("80");
    expect(bounds("trine_e2e_request_latency_seconds").slice(0, 3)).toEqual(["0.3", "0.5", "0.8"]);
    expect(bounds("trine_e2e_request_latency_seconds").at(-2)).toBe("7680");
  });
});

describe("request logs", () => {
  it("writes one line per request with its id, tokens and timings, and no prompt text", async () => {
    const answer = await post(
      server,
      "/v1/completions",
      { model: server.config.modelName, prompt: SECRET_PROMPT, max_tokens: 4 },
      { "x-request-id": "trace-me-42" },
    );
    expect(answer.headers.get("x-request-id")).toBe("trace-me-42");
    const lines = server.logs.filter((l) => l.reqId === "trace-me-42");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "request",
      method: "POST",
      url: "/v1/completions",
      statusCode: 200,
      model: server.config.modelName,
      promptTokens: answer.json.usage.prompt_tokens,
      completionTokens: answer.json.usage.completion_tokens,
      cachedTokens: 0,
      finishReason: answer.json.choices[0].finish_reason,
    });
    for (const timing of ["queueSeconds", "timeToFirstTokenSeconds", "totalSeconds", "durationSeconds"]) {
      expect(lines[0][timing]).toBeGreaterThanOrEqual(0);
    }
    expect(JSON.stringify(server.logs)).not.toContain(SECRET_PROMPT);
  });

  it("logs a streamed request once, when the stream ends", async () => {
    await post(
      server,
      "/v1/chat/completions",
      {
        model: server.config.modelName,
        messages: [{ role: "user", content: SECRET_PROMPT }],
        max_tokens: 3,
        stream: true,
      },
      { "x-request-id": "stream-7" },
    );
    const lines = server.logs.filter((l) => l.reqId === "stream-7");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ statusCode: 200, completionTokens: expect.any(Number) });
    expect(JSON.stringify(server.logs)).not.toContain(SECRET_PROMPT);
  });

  it("generates a request id when none (or a malformed one) is sent", async () => {
    const answer = await get(server, "/health", { "x-request-id": "not an id; has spaces" });
    const id = answer.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.logs.filter((l) => l.reqId === id)).toHaveLength(1);
  });

  it("logs the prompt only at debug level", async () => {
    const debug = await startInProcess({ modelDir: dir, logLevel: "debug" });
    try {
      debug.logs.length = 0;
      await post(debug, "/v1/completions", {
        model: debug.config.modelName,
        prompt: SECRET_PROMPT,
        max_tokens: 2,
      });
      expect(debug.logs.some((l) => l.msg === "prompt" && l.prompt === SECRET_PROMPT && l.level === 20)).toBe(
        true,
      );
    } finally {
      await debug.close();
    }
  });
});
