import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { parseSse } from "../../loadtest/sse-events.js";
import { resolveServerConfig } from "../../src/server/config.js";
import { startTracing, type Tracing, tracingWanted } from "../../src/server/tracing.js";
import { runCli } from "../cli/run-cli.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../helpers/otlp-receiver.js";

/**
 * Tracing against a real OTLP/HTTP receiver started here: the SDK exports what a collector would
 * get (the JSON encoding, so that the test can read it), and the spans are checked as a tracing
 * backend would show them: names, parents, the caller's trace id, GenAI attributes, no text.
 */

const PROMPT = "Tell me about a brave little mouse who lived under the old bridge.";
/** Workers' and main thread's clocks both come from the epoch; allow them this much disagreement. */
const CLOCK_SLACK_MS = 5;

function traceparent(): { header: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString("hex");
  const parentId = randomBytes(8).toString("hex");
  return { header: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

interface StreamedChat {
  readonly text: string[];
  readonly usage: { prompt_tokens: number; completion_tokens: number };
}

async function streamChat(server: InProcessServer, header: string): Promise<StreamedChat> {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: header },
    body: JSON.stringify({
      model: server.config.modelName,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: 12,
      n: 2,
      temperature: 0.7,
      top_p: 0.9,
      seed: 11,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  expect(response.status).toBe(200);
  const text = ["", ""];
  let usage: StreamedChat["usage"] | undefined;
  for (const { data } of parseSse(await response.text())) {
    if (data === "[DONE]") continue;
    const chunk = JSON.parse(data);
    for (const choice of chunk.choices) text[choice.index] += choice.delta.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage: usage! };
}

/** Waits for the request's spans: the HTTP span ends last of those made while it runs. */
async function spansOf(receiver: OtlpReceiver, tracing: Tracing, traceId: string): Promise<ReceivedSpan[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    await tracing.forceFlush();
    const spans = receiver.spans().filter((span) => span.traceId === traceId);
    if (spans.some((span) => span.kind === 2) && spans.some((span) => span.name === "decode")) return spans;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return receiver.spans().filter((span) => span.traceId === traceId);
}

/** Waits until the trace has a span named `name` (spans are exported as requests end). */
async function spansOfTrace(
  receiver: OtlpReceiver,
  tracing: Tracing,
  traceId: string,
  name: string,
): Promise<ReceivedSpan[]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    await tracing.forceFlush();
    const spans = receiver.spans().filter((span) => span.traceId === traceId);
    if (spans.some((span) => span.name === name)) return spans;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no span ${name} in trace ${traceId}`);
}

describe("tracing on, exporting to an OTLP/HTTP receiver", () => {
  let receiver: OtlpReceiver;
  let tracing: Tracing;
  let traced: InProcessServer;
  let untraced: InProcessServer;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = await startTracing(
      { endpoint: `${receiver.url}/v1/traces` },
      { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" },
    );
    traced = await startInProcess({ logLevel: "info", maxSequences: 4 }, { tracing });
    untraced = await startInProcess({ logLevel: "info", maxSequences: 4 });
  });

  afterAll(async () => {
    await Promise.all([traced?.close(), untraced?.close()]);
    await tracing?.shutdown();
    await receiver?.close();
  });

  it("joins the caller's trace with the request's spans, GenAI attributes and no text", async () => {
    const caller = traceparent();
    const { text, usage } = await streamChat(traced, caller.header);
    const spans = await spansOf(receiver, tracing, caller.traceId);
    const named = (name: string) => spans.filter((span) => span.name === name);
    const only = (name: string) => {
      expect(named(name), name).toHaveLength(1);
      return named(name)[0];
    };

    // The HTTP span is the caller's child; the rest hang under it.
    const http = only("POST /v1/chat/completions");
    expect(http.kind).toBe(2);
    expect(http.parentSpanId).toBe(caller.parentId);
    expect(http.attributes["http.response.status_code"]).toBe(200);
    const generation = only(`chat ${traced.config.modelName}`);
    expect(generation.parentSpanId).toBe(http.spanId);
    const stream = only("stream");
    expect(stream.parentSpanId).toBe(http.spanId);
    for (const name of ["tokenize", "queue"]) expect(only(name).parentSpanId).toBe(generation.spanId);
    for (const name of ["prefill", "decode"]) {
      expect(
        named(name)
          .map((span) => span.attributes["trine.choice.index"])
          .sort(),
      ).toEqual([0, 1]);
      for (const span of named(name)) expect(span.parentSpanId).toBe(generation.spanId);
    }
    expect(spans).toHaveLength(3 + 2 + 2 * 2);

    // Each child inside its parent, and the phases in order.
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    for (const span of spans) {
      const parent = byId.get(span.parentSpanId);
      if (!parent) continue;
      expect(span.startMs, span.name).toBeGreaterThanOrEqual(parent.startMs - CLOCK_SLACK_MS);
      expect(span.endMs, span.name).toBeLessThanOrEqual(parent.endMs + CLOCK_SLACK_MS);
    }
    const tokenize = only("tokenize");
    const queue = only("queue");
    expect(queue.startMs).toBeGreaterThanOrEqual(tokenize.endMs - CLOCK_SLACK_MS);
    for (const index of [0, 1]) {
      const prefill = named("prefill").find((span) => span.attributes["trine.choice.index"] === index)!;
      const decode = named("decode").find((span) => span.attributes["trine.choice.index"] === index)!;
      expect(prefill.startMs).toBeGreaterThanOrEqual(queue.endMs - CLOCK_SLACK_MS);
      expect(decode.startMs).toBe(prefill.endMs);
      expect(prefill.attributes["trine.prefill.steps"]).toBeGreaterThanOrEqual(1);
      expect(prefill.attributes["trine.batch.size"]).toBeGreaterThanOrEqual(1);
      // 12 tokens: the first from prefill, then 11 decode steps, the two choices batched together
      // (one may start or finish a step before the other, alone then).
      expect(decode.attributes["gen_ai.usage.output_tokens"]).toBe(12);
      expect(decode.attributes["trine.decode.steps"]).toBe(11);
      expect(decode.attributes["trine.batch.size.min"]).toBeGreaterThanOrEqual(1);
      expect(decode.attributes["trine.batch.size.mean"]).toBeGreaterThan(1.5);
      expect(decode.attributes["trine.batch.size.max"]).toBe(2);
      expect(decode.attributes["gen_ai.response.finish_reasons"]).toEqual(["length"]);
      // Its own time to first token: from arrival to past its prefill, and the request's is the first.
      const choiceTtft = decode.attributes["gen_ai.latency.time_to_first_token"] as number;
      expect(http.startMs + choiceTtft * 1000).toBeGreaterThanOrEqual(prefill.endMs - CLOCK_SLACK_MS);
      expect(choiceTtft).toBeGreaterThanOrEqual(
        (generation.attributes["gen_ai.latency.time_to_first_token"] as number) - 1e-9,
      );
    }
    expect(stream.attributes["trine.stream.chunks"]).toBeGreaterThan(2);

    // GenAI semantic conventions on the operation's span, matching what the client was told.
    expect(generation.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "trine",
      "gen_ai.request.model": traced.config.modelName,
      "gen_ai.response.model": traced.config.modelName,
      "gen_ai.request.max_tokens": 12,
      "gen_ai.request.temperature": 0.7,
      "gen_ai.request.top_p": 0.9,
      "gen_ai.request.seed": 11,
      "gen_ai.request.choice.count": 2,
      "gen_ai.usage.input_tokens": usage.prompt_tokens,
      "gen_ai.usage.output_tokens": usage.completion_tokens,
      "gen_ai.response.finish_reasons": ["length", "length"],
    });
    const ttft = generation.attributes["gen_ai.latency.time_to_first_token"] as number;
    expect(ttft).toBeGreaterThan(0);
    expect(ttft * 1000).toBeLessThanOrEqual(generation.endMs - http.startMs + CLOCK_SLACK_MS);
    expect(generation.resource["service.name"]).toBe("trine");

    // Neither the prompt nor the answer is in what left the process.
    const exported = receiver.exports.map((received) => received.body.toString("utf8")).join("\n");
    expect(exported).not.toContain("brave little mouse");
    for (const answer of text) {
      expect(answer.length).toBeGreaterThan(8);
      expect(exported).not.toContain(JSON.stringify(answer).slice(1, -1));
    }

    // The request's log line leads to its trace.
    const line = traced.logs.find((log) => log.msg === "request" && log.trace_id === caller.traceId);
    expect(line).toMatchObject({ trace_id: caller.traceId, span_id: http.spanId, statusCode: 200 });
  });

  it("shows a request that waited in the queue and was refused, one refused by validation, one left mid-stream", async () => {
    const busy = await startInProcess(
      { maxSequences: 1, queueLength: 1, queueTimeoutMs: 300, maxOutputTokens: 1_000_000 },
      { tracing },
    );
    // Its own connections, closed before the server: one left mid-stream stays open otherwise.
    const agent = new Agent();
    try {
      const send = (header: string, body: Record<string, unknown>) =>
        undiciFetch(`${busy.url}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", traceparent: header },
          body: JSON.stringify({ model: busy.config.modelName, prompt: "Once upon a time", ...body }),
          dispatcher: agent,
        });
      const leaving = traceparent();
      // Without the end-of-text tokens it runs until its client leaves.
      const noEos = Object.fromEntries(
        (await busy.app.trine.scheduler.model()).eosTokenIds.map((id) => [String(id), -100]),
      );
      const running = await send(leaving.header, { max_tokens: 1_000_000, stream: true, logit_bias: noEos });
      expect(running.status).toBe(200);
      const refused = traceparent();
      const tooMany = await send(refused.header, { max_tokens: 4 });
      expect(tooMany.status).toBe(429);
      await tooMany.text();
      const invalid = traceparent();
      const bad = await send(invalid.header, { max_tokens: 4, temperature: "hot" });
      expect(bad.status).toBe(400);
      await bad.text();
      await running.body?.cancel();

      // Refused after 300 ms in the queue: the generation span, in error, with its wait.
      const waited = await spansOfTrace(receiver, tracing, refused.traceId, "queue");
      const generation = waited.find((span) => span.name === `text_completion ${busy.config.modelName}`)!;
      expect(generation.statusCode).toBe(2);
      expect(generation.attributes["error.type"]).toBe("429");
      const queue = waited.find((span) => span.name === "queue")!;
      expect(queue.endMs - queue.startMs).toBeGreaterThanOrEqual(300 - CLOCK_SLACK_MS);
      expect(waited.map((span) => span.name).sort()).toEqual(
        ["POST /v1/completions", generation.name, "queue", "tokenize"].sort(),
      );
      // Refused by the schema before the handler: the HTTP span alone.
      const rejected = await spansOfTrace(receiver, tracing, invalid.traceId, "POST /v1/completions");
      expect(rejected.map((span) => [span.name, span.attributes["http.response.status_code"]])).toEqual([
        ["POST /v1/completions", 400],
      ]);
      // The client that left mid-stream: Fastify answers no onResponse for it, yet its trace is whole.
      const left = await spansOfTrace(receiver, tracing, leaving.traceId, "decode");
      const http = left.find((span) => span.name === "POST /v1/completions")!;
      expect(http.attributes).toMatchObject({ "trine.client_left": true, "http.response.status_code": 200 });
      const decode = left.find((span) => span.name === "decode")!;
      expect(decode.attributes["gen_ai.response.finish_reasons"]).toEqual(["cancelled"]);
      expect(decode.attributes["gen_ai.usage.output_tokens"]).toBeGreaterThan(0);
    } finally {
      await agent.destroy();
      await busy.close();
    }
  });

  it("puts the conversation store's reads, writes and deletes under the request's span, naming only the backend", async () => {
    const post = (path: string, method: string, body: unknown, header: string) =>
      fetch(`${traced.url}${path}`, {
        method,
        headers: { "content-type": "application/json", traceparent: header },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const created = traceparent();
    const first = (await (
      await post(
        "/v1/responses",
        "POST",
        { model: traced.config.modelName, input: "Hello", max_output_tokens: 4 },
        created.header,
      )
    ).json()) as { id: string };
    const continued = traceparent();
    await (
      await post(
        "/v1/responses",
        "POST",
        {
          model: traced.config.modelName,
          input: "Again",
          previous_response_id: first.id,
          max_output_tokens: 4,
        },
        continued.header,
      )
    ).json();
    const deleted = traceparent();
    expect((await post(`/v1/responses/${first.id}`, "DELETE", undefined, deleted.header)).status).toBe(200);

    const write = await spansOfTrace(receiver, tracing, created.traceId, "trine.store.write");
    const read = await spansOfTrace(receiver, tracing, continued.traceId, "trine.store.read");
    const remove = await spansOfTrace(receiver, tracing, deleted.traceId, "trine.store.delete");
    for (const [spans, name] of [
      [write, "trine.store.write"],
      [read, "trine.store.read"],
      [remove, "trine.store.delete"],
    ] as const) {
      const http = spans.find((span) => span.kind === 2)!;
      const store = spans.find((span) => span.name === name)!;
      expect(store.parentSpanId).toBe(http.spanId);
      expect(store.attributes).toEqual({ "trine.store.backend": traced.config.stateStore.kind });
    }
  });

  it("a server without tracing exports nothing, even beside a traced one in the same process", async () => {
    const caller = traceparent();
    const before = receiver.exports.length;
    await streamChat(untraced, caller.header);
    // The traced server's request flushes the exporter, so a span of the other would go out too.
    const control = traceparent();
    await streamChat(traced, control.header);
    expect((await spansOf(receiver, tracing, control.traceId)).length).toBeGreaterThan(0);
    expect(receiver.spans().filter((span) => span.traceId === caller.traceId)).toEqual([]);
    expect(receiver.exports.length).toBeGreaterThan(before);
    const line = untraced.logs.find((log) => log.msg === "request" && log.url === "/v1/chat/completions");
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty("trace_id");
  });
});

describe("tracing with the default OTLP encoding, protobuf", () => {
  it("exports the same spans, read back by the test's own protobuf reader", async () => {
    const receiver = await startOtlpReceiver();
    const tracing = await startTracing({ endpoint: `${receiver.url}/v1/traces` }, {});
    const server = await startInProcess({ maxSequences: 4 }, { tracing });
    try {
      const caller = traceparent();
      const { usage } = await streamChat(server, caller.header);
      const spans = await spansOf(receiver, tracing, caller.traceId);
      expect(receiver.exports.every((received) => received.contentType === "application/x-protobuf")).toBe(
        true,
      );
      const http = spans.find((span) => span.name === "POST /v1/chat/completions")!;
      expect(http.parentSpanId).toBe(caller.parentId);
      const generation = spans.find((span) => span.name === `chat ${server.config.modelName}`)!;
      expect(generation.parentSpanId).toBe(http.spanId);
      expect(generation.attributes).toMatchObject({
        "gen_ai.request.temperature": 0.7,
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
        "gen_ai.response.finish_reasons": ["length", "length"],
      });
      expect(spans.map((span) => span.name).sort()).toEqual(
        [
          "POST /v1/chat/completions",
          `chat ${server.config.modelName}`,
          "tokenize",
          "queue",
          "prefill",
          "prefill",
          "decode",
          "decode",
          "stream",
        ].sort(),
      );
    } finally {
      await server.close();
      await tracing.shutdown();
      await receiver.close();
    }
  });
});

describe("when tracing is on", () => {
  const none = { otlpTracesEndpoint: null };
  const flag = { otlpTracesEndpoint: "http://collector:4318/v1/traces" };

  it("is off by default and on with the flag or an OTLP endpoint variable", () => {
    expect(tracingWanted(none, {})).toBe(false);
    expect(tracingWanted(flag, {})).toBe(true);
    expect(tracingWanted(none, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(tracingWanted(none, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(true);
    expect(tracingWanted(none, { OTEL_EXPORTER_OTLP_ENDPOINT: " " })).toBe(false);
  });

  it("stays off when the standard variables turn the SDK or its trace exporter off", () => {
    expect(tracingWanted(flag, { OTEL_SDK_DISABLED: "true" })).toBe(false);
    expect(tracingWanted(flag, { OTEL_TRACES_EXPORTER: "none" })).toBe(false);
  });

  it("takes the endpoint as a setting, refusing what is not an http(s) URL", () => {
    expect(resolveServerConfig({}, {}).otlpTracesEndpoint).toBeNull();
    expect(
      resolveServerConfig({ otlpTracesEndpoint: "http://collector:4318/v1/traces" }, {}).otlpTracesEndpoint,
    ).toBe("http://collector:4318/v1/traces");
    expect(
      resolveServerConfig({}, { TRINE_OTLP_TRACES_ENDPOINT: "https://otel.example.com/v1/traces" })
        .otlpTracesEndpoint,
    ).toBe("https://otel.example.com/v1/traces");
    expect(() => resolveServerConfig({ otlpTracesEndpoint: "collector:4317" }, {})).toThrow(
      "--otlp-traces-endpoint / TRINE_OTLP_TRACES_ENDPOINT: must be an http:// or https:// URL",
    );
  });
});

describe("trine serve --otlp-traces-endpoint", () => {
  it("exports the spans of its requests, the last ones at shutdown", async () => {
    const receiver = await startOtlpReceiver();
    const root = join(import.meta.dirname, "..", "..");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "src", "cli", "entry.ts"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          TRINE_WORKERS: "1",
          TRINE_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
          OTEL_SERVICE_NAME: "trine-under-test",
          // Longer than the test: only the shutdown's flush can send the spans.
          OTEL_BSP_SCHEDULE_DELAY: "600000",
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      const lines: Record<string, unknown>[] = [];
      let url = "";
      for await (const line of createInterface({ input: child.stdout! })) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        const listening = /^Server listening at (http:\/\/127\.0\.0\.1:\d+)$/.exec(String(parsed.msg));
        if (listening) url = listening[1];
        if (parsed.msg === "model ready") break;
      }
      expect(lines.some((line) => line.msg === "tracing on")).toBe(true);
      const caller = traceparent();
      const response = await fetch(`${url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: caller.header },
        body: JSON.stringify({ model: "storyteller", prompt: "Once upon a time", max_tokens: 5 }),
      });
      expect(response.status).toBe(200);
      await response.json();
      expect(receiver.exports).toHaveLength(0);
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
      const spans = receiver.spans().filter((span) => span.traceId === caller.traceId);
      expect(spans.map((span) => span.name).sort()).toEqual(
        [
          "POST /v1/completions",
          "text_completion storyteller",
          "tokenize",
          "queue",
          "prefill",
          "decode",
        ].sort(),
      );
      expect(spans[0].resource["service.name"]).toBe("trine-under-test");
    } finally {
      child.kill("SIGKILL");
      await receiver.close();
    }
  });

  it("refuses an OTLP protocol it cannot export with, naming the variable", () => {
    const result = runCli(
      ["serve", "--port", "0", "--otlp-traces-endpoint", "http://127.0.0.1:9/v1/traces"],
      {
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc",
      },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL");
  });
});
