import { type Context, type Span, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import { epochMs } from "../workers/sequence-timing.js";
import type { ServerConfig } from "./config.js";

/**
 * OpenTelemetry tracing, off unless asked for (docs/OBSERVABILITY.md). When off, the SDK is never
 * loaded, no request gets a RequestTrace, and the workers send no timings: every hook in the
 * request path is one `request.trace?.` or `timings?.` check. When on (startTracing), each request
 * gets an HTTP server span from @fastify/otel (joining the caller's trace through its W3C
 * traceparent), and once it is over the spans of its inside (tokenize, queue, prefill, decode,
 * stream) are made from the plain timestamps the request collected, the workers' among them
 * (src/server/request-spans.ts).
 */

/** Turns tracing on or off; the exporter's protocol, headers, sampler... come from OTEL_* (env). */
export interface TracingSettings {
  /** The OTLP traces endpoint (--otlp-traces-endpoint), or null to take OTEL_EXPORTER_OTLP_*'s. */
  readonly endpoint: string | null;
}

type Env = Readonly<Record<string, string | undefined>>;

const isSet = (value: string | undefined) => value !== undefined && value.trim() !== "";

/**
 * Tracing is on when Trine is given a traces endpoint (--otlp-traces-endpoint) or the standard
 * variables name one (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT), unless
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none says otherwise.
 */
export function tracingWanted(config: Pick<ServerConfig, "otlpTracesEndpoint">, env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return false;
  return (
    config.otlpTracesEndpoint !== null ||
    isSet(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ||
    isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT)
  );
}

/** A started tracing SDK: give `plugin` to buildApp (AppOptions.tracing). */
export interface Tracing {
  /** The HTTP span (@fastify/otel) and Trine's hooks; registered before the routes. */
  readonly plugin: FastifyPluginCallback;
  readonly tracer: Tracer;
  /** Exports every span ended so far (the batch processor otherwise waits OTEL_BSP_SCHEDULE_DELAY). */
  forceFlush(): Promise<void>;
  /** Flushes, stops the exporter and unregisters the SDK from the OpenTelemetry API. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK (loaded only now, so that a server without tracing never loads it). `env` decides
 * the protocol and the default service name; the SDK and the exporter read the rest of the OTEL_*
 * variables from process.env themselves, so outside tests `env` is process.env.
 */
export async function startTracing(settings: TracingSettings, env: Env = process.env): Promise<Tracing> {
  const { startTracingSdk } = await import("./tracing-sdk.js");
  return startTracingSdk(settings, env);
}

/** Started tracing when the configuration and environment ask for it (tracingWanted), else undefined. */
export async function tracingFor(
  config: Pick<ServerConfig, "otlpTracesEndpoint">,
  env: Env = process.env,
): Promise<Tracing | undefined> {
  return tracingWanted(config, env) ? startTracing({ endpoint: config.otlpTracesEndpoint }, env) : undefined;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The request's trace while tracing is on and the request is sampled; undefined otherwise. */
    trace: RequestTrace | undefined;
  }
}

/**
 * What a traced request records as it goes (Unix epoch ms, as the workers' timings); its spans
 * are made from these once it is over. The HTTP span is live, made by @fastify/otel.
 */
export class RequestTrace {
  /** Body parsed and validated: the handler starts preparing the prompt. */
  handlerStartedAt: number | null = null;
  /** The prepared request went to the scheduler for admission. */
  queueStartedAt: number | null = null;
  streamStartedAt: number | null = null;
  streamEndedAt: number | null = null;
  streamChunks = 0;
  /** Its spans have been made (once: when the response finished, or when the client left). */
  recorded = false;

  constructor(
    /** The OpenTelemetry context holding the HTTP span: the parent of the request's spans. */
    readonly context: Context,
    readonly httpSpan: Span,
    readonly tracer: Tracer,
  ) {}

  handlerStarted(): void {
    this.handlerStartedAt = epochMs();
  }

  queueStarted(): void {
    this.queueStartedAt = epochMs();
  }

  streamStarted(): void {
    this.streamStartedAt = epochMs();
  }

  chunkSent(): void {
    this.streamChunks++;
  }

  streamEnded(): void {
    this.streamEndedAt ??= epochMs();
  }
}

/**
 * A live child span of the request's HTTP span around `work`, for work done while the request
 * runs, such as the conversation store's reads and writes (issue 13):
 * `await traceOperation(request, "store.read", { "trine.store.backend": "redis" }, () => store.get(id))`.
 * Without a trace it only runs `work`. Attributes must never hold prompt or output text.
 */
export async function traceOperation<T>(
  request: FastifyRequest,
  name: string,
  attributes: Readonly<Record<string, string | number | boolean>>,
  work: () => Promise<T>,
): Promise<T> {
  const trace = request.trace;
  if (!trace) return work();
  const span = trace.tracer.startSpan(name, { attributes }, trace.context);
  try {
    return await work();
  } catch (error) {
    // The error's class only: a message could quote what was stored.
    span.setAttribute("error.type", (error as Error).name ?? "Error");
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
