import {
  type Attributes,
  type Context,
  SpanKind,
  SpanStatusCode,
  trace as traceApi,
} from "@opentelemetry/api";
import type { SequenceSpec } from "../generation/sequence-spec.js";
import type { RequestRun } from "../scheduler/request-run.js";
import { epochMs } from "../workers/sequence-timing.js";
import type { RequestTrace } from "./tracing.js";

/**
 * The spans inside a traced request, made once it is over from what it recorded (RequestTrace)
 * and what its run and the workers timed (RunTimings), under the HTTP span:
 *
 *   POST /v1/chat/completions          SERVER, @fastify/otel (the caller's traceparent is its parent)
 *   ├── chat {model}                   the GenAI operation: request parameters, usage, latencies
 *   │   ├── tokenize                   chat template, tokenisation, prompt checks, the specs
 *   │   ├── queue                      waiting for sequence slots (admission)
 *   │   ├── prefill   (one per choice) the worker: taking the sequence in to its first token
 *   │   └── decode    (one per choice) the worker: first token to last, with its batch sizes
 *   └── stream                         SSE delivery: headers to the last event
 *
 * Attribute names are OpenTelemetry's GenAI semantic conventions where they have one (gen_ai.*),
 * vLLM's gen_ai.latency.* for the latencies it exports too, trine.* for the rest. No prompt or
 * output text, nor stop strings, ever goes into an attribute.
 */

/** GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/). */
export const GEN_AI = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  requestTopP: "gen_ai.request.top_p",
  requestTopK: "gen_ai.request.top_k",
  requestFrequencyPenalty: "gen_ai.request.frequency_penalty",
  requestPresencePenalty: "gen_ai.request.presence_penalty",
  requestSeed: "gen_ai.request.seed",
  requestChoiceCount: "gen_ai.request.choice.count",
  responseModel: "gen_ai.response.model",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  cacheReadInputTokens: "gen_ai.usage.cache_read.input_tokens",
  /** vLLM's span attributes (seconds), so that queries written for vLLM's traces read Trine's. */
  timeInQueue: "gen_ai.latency.time_in_queue",
  timeToFirstToken: "gen_ai.latency.time_to_first_token",
  e2e: "gen_ai.latency.e2e",
  timeInPrefill: "gen_ai.latency.time_in_model_prefill",
  timeInDecode: "gen_ai.latency.time_in_model_decode",
} as const;

/** The GenAI operation of each generation endpoint; others default to chat. */
const OPERATION_BY_ROUTE: Readonly<Record<string, string>> = {
  "/v1/completions": "text_completion",
  "/v1/chat/completions": "chat",
};

export interface FinishedRequest {
  readonly trace: RequestTrace;
  readonly run: RequestRun | undefined;
  /** The route's URL pattern, e.g. /v1/chat/completions. */
  readonly route: string | undefined;
  readonly modelName: string;
  /** performance.now() at arrival (request.arrivedAt). */
  readonly arrivedAt: number;
  readonly statusCode: number;
}

const seconds = (fromMs: number, toMs: number) => (toMs - fromMs) / 1000;

/** Makes the spans of a finished request (see above); nothing for a request with no handler work. */
export function recordRequestSpans(request: FinishedRequest): void {
  const { trace, run } = request;
  if (trace.handlerStartedAt === null) return;
  const now = epochMs();
  const arrivedAt = performance.timeOrigin + request.arrivedAt;
  const timings = run?.timings;

  if (trace.streamStartedAt !== null) {
    const stream = trace.tracer.startSpan(
      "stream",
      { startTime: trace.streamStartedAt, attributes: { "trine.stream.chunks": trace.streamChunks } },
      trace.context,
    );
    stream.end(trace.streamEndedAt ?? now);
  }
  // A request refused before it asked for slots (a bad prompt) has no generation to show.
  if (trace.queueStartedAt === null) return;

  const operation = OPERATION_BY_ROUTE[request.route ?? ""] ?? "chat";
  const endedAt = timings?.finishedAt ?? now;
  const generation = trace.tracer.startSpan(
    `${operation} ${request.modelName}`,
    {
      kind: SpanKind.INTERNAL,
      startTime: trace.handlerStartedAt,
      attributes: {
        [GEN_AI.operationName]: operation,
        [GEN_AI.providerName]: "trine",
        [GEN_AI.requestModel]: request.modelName,
        [GEN_AI.responseModel]: request.modelName,
        ...(timings ? requestAttributes(timings.sequences) : {}),
      },
    },
    trace.context,
  );
  const inside = traceApi.setSpan(trace.context, generation);
  const child = (name: string, start: number, end: number, attributes: Attributes = {}) =>
    trace.tracer.startSpan(name, { startTime: start, attributes }, inside).end(end);

  child("tokenize", trace.handlerStartedAt, trace.queueStartedAt, {
    ...(run ? { "trine.prompt_tokens": run.promptTokens } : {}),
  });
  const admittedAt = timings?.admittedAt ?? now;
  child("queue", trace.queueStartedAt, admittedAt, run ? { "trine.sequences": run.choiceCount } : {});
  if (!run || !timings) {
    // Not admitted: refused by admission (429), the client left, or the server is draining.
    generation.setAttribute("error.type", String(request.statusCode));
    generation.setStatus({ code: SpanStatusCode.ERROR });
    generation.end(admittedAt);
    return;
  }

  let prefillSeconds = 0;
  let decodeSeconds = 0;
  for (const [index, choice] of timings.choices.entries()) {
    const { prefill, decode } = choice;
    if (!prefill) continue;
    child("prefill", prefill.receivedAt, prefill.firstTokenAt, {
      "trine.choice.index": index,
      "trine.prefill.steps": prefill.steps,
      "trine.batch.size": prefill.batchSize,
    });
    prefillSeconds = Math.max(prefillSeconds, seconds(prefill.receivedAt, prefill.firstTokenAt));
    const lastTokenAt = decode?.lastTokenAt ?? choice.endedAt ?? now;
    child("decode", prefill.firstTokenAt, lastTokenAt, {
      "trine.choice.index": index,
      // This choice's time to first token, from arrival to the main thread hearing of it.
      ...(choice.firstTokenAt === null
        ? {}
        : { [GEN_AI.timeToFirstToken]: seconds(arrivedAt, choice.firstTokenAt) }),
      [GEN_AI.outputTokens]: choice.tokens,
      [GEN_AI.responseFinishReasons]: [choice.finishReason ?? "unfinished"],
      ...(decode
        ? {
            "trine.decode.steps": decode.steps,
            "trine.batch.size.min": decode.batchSizeMin,
            "trine.batch.size.mean": decode.batchSizeMean,
            "trine.batch.size.max": decode.batchSizeMax,
          }
        : {}),
    });
    decodeSeconds = Math.max(decodeSeconds, seconds(prefill.firstTokenAt, lastTokenAt));
  }

  const summary = run.summary;
  generation.setAttributes({
    [GEN_AI.inputTokens]: run.promptTokens,
    [GEN_AI.outputTokens]: run.completionTokens,
    [GEN_AI.cacheReadInputTokens]: run.cachedTokens,
    [GEN_AI.responseFinishReasons]: timings.choices.map((choice) => choice.finishReason ?? "unfinished"),
    [GEN_AI.timeInQueue]: seconds(arrivedAt, timings.admittedAt),
    [GEN_AI.e2e]: seconds(arrivedAt, endedAt),
    [GEN_AI.timeInPrefill]: prefillSeconds,
    [GEN_AI.timeInDecode]: decodeSeconds,
    ...(timings.firstTokenAt === null
      ? {}
      : { [GEN_AI.timeToFirstToken]: seconds(arrivedAt, timings.firstTokenAt) }),
  });
  if (summary.finishReasons.includes("error") || request.statusCode >= 500) {
    generation.setAttribute("error.type", request.statusCode >= 400 ? String(request.statusCode) : "_OTHER");
    generation.setStatus({ code: SpanStatusCode.ERROR });
  }
  generation.end(endedAt);
}

/** The request's parameters as the run used them (the first choice's: all share them). */
function requestAttributes(sequences: readonly SequenceSpec[]): Attributes {
  const spec = sequences[0];
  const { sampling } = spec;
  const attributes: Attributes = { [GEN_AI.requestMaxTokens]: spec.maxTokens };
  const optional: [string, number | null | undefined][] = [
    [GEN_AI.requestTemperature, sampling.temperature],
    [GEN_AI.requestTopP, sampling.top_p],
    [GEN_AI.requestTopK, sampling.top_k],
    [GEN_AI.requestFrequencyPenalty, sampling.frequency_penalty],
    [GEN_AI.requestPresencePenalty, sampling.presence_penalty],
    [GEN_AI.requestSeed, sampling.seed],
  ];
  for (const [name, value] of optional) if (value != null) attributes[name] = value;
  if (sequences.length !== 1) attributes[GEN_AI.requestChoiceCount] = sequences.length;
  return attributes;
}

/** For the log lines of a traced request. */
export function traceIds(context: Context): { trace_id: string; span_id: string } | undefined {
  const span = traceApi.getSpan(context);
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
