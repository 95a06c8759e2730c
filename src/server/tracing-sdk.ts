import { FastifyOtelInstrumentation } from "@fastify/otel";
import { context, propagation, trace } from "@opentelemetry/api";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { NodeSDK, resources } from "@opentelemetry/sdk-node";
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from "fastify";
import { ConfigError } from "./config.js";
import { recordRequestSpans, traceIds } from "./request-spans.js";
import { RequestTrace, type Tracing, type TracingSettings } from "./tracing.js";
import { trineVersion } from "./version.js";

/**
 * The OpenTelemetry SDK, loaded only when tracing is on (tracing.ts). NodeSDK reads the standard
 * variables itself (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER[_ARG],
 * OTEL_PROPAGATORS, OTEL_BSP_*, OTEL_SPAN_*_LIMIT), and so does the exporter for what it has
 * (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION); Trine builds the
 * exporter only to give it --otlp-traces-endpoint when set. Traces only: the metrics are
 * Prometheus' (/metrics) and the logs pino's, so no OTel meter or log exporter is started.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** OTLP over HTTP, in its two encodings; collectors take both on port 4318. */
const PROTOCOLS = ["http/protobuf", "http/json"] as const;

function exporterFor(settings: TracingSettings, env: Env) {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "").trim();
  const config = settings.endpoint === null ? {} : { url: settings.endpoint };
  if (protocol === "" || protocol === "http/protobuf") return new OtlpProtobufExporter(config);
  if (protocol === "http/json") return new OtlpJsonExporter(config);
  throw new ConfigError(
    `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL: Trine exports traces over ${PROTOCOLS.join(" or ")} (got "${protocol}")`,
  );
}

export function startTracingSdk(settings: TracingSettings, env: Env): Tracing {
  const exporter = exporterFor(settings, env);
  const named =
    env.OTEL_SERVICE_NAME?.trim() || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? "");
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over these (detected resources merge last).
    resource: resources.resourceFromAttributes({ "service.version": trineVersion() }),
    ...(named ? {} : { serviceName: "trine" }),
    traceExporter: exporter,
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  const tracer = trace.getTracer("trine", trineVersion());

  const httpInstrumentation = new FastifyOtelInstrumentation({
    // One HTTP span per request; Trine's own spans say where the time went, not every hook.
    instrumentHooks: false,
    instrumentHandler: false,
    // HTTP semantic conventions name a server span "{method} {route}".
    requestHook: (span, request) => {
      const route = request.routeOptions.url;
      span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
    },
  });
  httpInstrumentation.setTracerProvider(trace.getTracerProvider());

  const recordSpans = (request: FastifyRequest, statusCode: number, clientLeft: boolean) => {
    const trace = request.trace;
    if (!trace || trace.recorded) return;
    trace.recorded = true;
    recordRequestSpans({
      trace,
      run: request.generation,
      route: request.routeOptions.url,
      modelName: request.server.trine.config.modelName,
      arrivedAt: request.arrivedAt,
      statusCode,
    });
    if (!clientLeft) return;
    // Nothing else will end the HTTP span: @fastify/otel ends it in onResponse.
    trace.httpSpan.setAttributes({ "http.response.status_code": statusCode, "trine.client_left": true });
    trace.httpSpan.end();
  };

  const trineHooks: FastifyPluginCallback = (app: FastifyInstance, _options, done) => {
    app.decorateRequest("trace", undefined);
    app.addHook("onRequest", async (request, reply) => {
      const { span, context: spanContext } = request.opentelemetry();
      // Unsampled requests (OTEL_TRACES_SAMPLER) get a non-recording span: nothing to record.
      if (!span || !spanContext || !span.isRecording()) return;
      request.trace = new RequestTrace(spanContext, span, tracer);
      const ids = traceIds(spanContext);
      if (ids) request.log = request.log.child(ids);
      // A client that leaves before its response finished (mid-stream, usually) gets no onResponse
      // from Fastify; its spans are made once the run has heard of it (the next turn of the loop).
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) setImmediate(() => recordSpans(request, reply.raw.statusCode, true));
      });
    });
    app.addHook("preHandler", async (request) => request.trace?.handlerStarted());
    app.addHook("onResponse", async (request, reply) => recordSpans(request, reply.statusCode, false));
    done();
  };
  skipOverride(trineHooks);

  const plugin: FastifyPluginCallback = (app, _options, done) => {
    app.register(httpInstrumentation.plugin());
    app.register(trineHooks);
    done();
  };
  skipOverride(plugin);

  return {
    plugin,
    tracer,
    forceFlush: async () => {
      const provider = trace.getTracerProvider() as {
        getDelegate?: () => { forceFlush?: () => Promise<void> };
      };
      await provider.getDelegate?.().forceFlush?.();
    },
    shutdown: async () => {
      httpInstrumentation.disable();
      await sdk.shutdown();
      // So that the process could start tracing again (the tests do).
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** Hooks added by the plugin apply to the whole app, as fastify-plugin would make them. */
function skipOverride(plugin: FastifyPluginCallback): void {
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
}
