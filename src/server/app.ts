import { randomUUID } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import cors from "@fastify/cors";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { Scheduler } from "../scheduler/scheduler.js";
import { apiKeyCheck } from "./api-keys.js";
import type { ServerConfig } from "./config.js";
import { ENDPOINTS } from "./endpoints/index.js";
import { responseSerializer } from "./endpoints/shared/serializer.js";
import { connectionError, errorBody, internalError, notFound, toApiError } from "./errors.js";
import { parseJsonBody } from "./json-body.js";
import { playground } from "./playground.js";
import { logRequest } from "./request-log.js";
import { SSE_KEEP_ALIVE_MS, SSE_STALL_TIMEOUT_MS } from "./sse.js";
import { StateStoreHandle } from "./state-store-handle.js";
import type { Tracing } from "./tracing.js";
import { trineVersion } from "./version.js";

export interface AppOptions {
  readonly config: ServerConfig;
  /** A pino logger. */
  readonly logger: FastifyBaseLogger;
  /** Interval of the SSE keep-alive comment; tests shorten it. */
  readonly sseKeepAliveMs?: number;
  /** How long a stream waits for its client to read before dropping it; tests shorten it. */
  readonly sseStallTimeoutMs?: number;
  /** How long a client may take to send a whole request; tests shorten it. */
  readonly requestReceiveTimeoutMs?: number;
  /**
   * Validate every response against its schema before it is written, answering 500 for one that
   * does not match (a field the schema lacks): the test servers turn this on.
   */
  readonly checkResponses?: boolean;
  /** A started tracing SDK (startTracing in tracing.ts); without one nothing is traced. */
  readonly tracing?: Tracing;
}

/** What the routes share, as `app.trine`. */
export interface TrineContext {
  readonly config: ServerConfig;
  readonly scheduler: Scheduler;
  readonly sseKeepAliveMs: number;
  readonly sseStallTimeoutMs: number;
  readonly checkResponses: boolean;
  /** Stored responses and chat reply states (--state-store). */
  readonly stateStore: StateStoreHandle;
}

declare module "fastify" {
  interface FastifyInstance {
    trine: TrineContext;
  }
}

/**
 * How long a client may take to send a whole request, headers and body. Fastify turns Node's own
 * limit off (its requestTimeout is 0), which let a client that sent headers and then a body a byte
 * now and then, or stopped half-way, hold its connection and buffered body for ever. 30 s still
 * takes a 1 MiB body (the default --max-body-bytes) at 35 KB/s.
 */
export const REQUEST_RECEIVE_TIMEOUT_MS = 30_000;

/** How often Node looks for connections past that limit (its default, 30 s, would double it). */
const RECEIVE_TIMEOUT_CHECK_MS = 1_000;

/** A client's x-request-id is kept when it is a plausible id; anything else is replaced. */
const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

function requestId(request: IncomingMessage): string {
  const given = request.headers["x-request-id"];
  return typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * The HTTP server, shared by the CLI (`trine serve`) and the tests. It answers at once; the model
 * loads when the caller runs `app.trine.scheduler.start()`, and until then generation answers 503
 * and /ready says loading. Closing the app destroys the worker pool.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const { config, logger } = options;
  const scheduler = new Scheduler(config, logger, (error) => toApiError(error) ?? error);
  const receiveTimeoutMs = options.requestReceiveTimeoutMs ?? REQUEST_RECEIVE_TIMEOUT_MS;
  const app = Fastify({
    loggerInstance: logger,
    requestTimeout: receiveTimeoutMs,
    http: {
      headersTimeout: receiveTimeoutMs,
      connectionsCheckingInterval: Math.min(RECEIVE_TIMEOUT_CHECK_MS, receiveTimeoutMs),
    },
    // Errors before a request exists (a timeout, a malformed request line) as OpenAI errors too.
    clientErrorHandler: (error, socket) => {
      if ((error as { code?: string }).code === "ECONNRESET" || socket.destroyed) return;
      const answer = connectionError((error as { code?: string }).code);
      const body = JSON.stringify(errorBody(answer));
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy(error);
    },
    // The one line per request is ours (request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    bodyLimit: config.maxBodyBytes,
    // The drain before close answers 503 itself, as an OpenAI error object.
    return503OnClosing: false,
    // Wrong types and unknown fields are errors, never coerced or dropped.
    ajv: {
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        allErrors: false,
        // OpenAI's fields are often "a string or an array", "a number or null".
        allowUnionTypes: true,
      },
    },
  });
  const checkResponses = options.checkResponses ?? false;
  const stateStore = new StateStoreHandle(config, scheduler, logger);
  app.decorate("trine", {
    config,
    scheduler,
    sseKeepAliveMs: options.sseKeepAliveMs ?? SSE_KEEP_ALIVE_MS,
    sseStallTimeoutMs: options.sseStallTimeoutMs ?? SSE_STALL_TIMEOUT_MS,
    checkResponses,
    stateStore,
  });
  app.decorateRequest("arrivedAt", 0);
  app.decorateRequest("generation", undefined);

  // Responses are written by their schema's serialiser (fast-json-stringify, as Fastify's own).
  app.setSerializerCompiler(({ schema }) => responseSerializer(schema as never, checkResponses));
  // JSON only: Fastify's text/plain parser would hand a string to the schema check.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, parseJsonBody);

  app.addHook("onRequest", async (request, reply) => {
    request.arrivedAt = performance.now();
    reply.header("x-request-id", request.id);
  });
  if (config.corsOrigins.length > 0) {
    app.register(cors, {
      origin: config.corsOrigins.includes("*") ? true : config.corsOrigins,
      exposedHeaders: ["x-request-id", "retry-after"],
    });
  }
  app.addHook("onRequest", apiKeyCheck(config.apiKeys));
  app.addHook("onResponse", async (request, reply) => logRequest(request, reply.statusCode));
  // Before the routes, so that its hooks see every request.
  if (options.tracing) app.register(options.tracing.plugin);

  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error);
    // Known errors are the client's or were logged where they happened (a worker's death).
    if (!apiError) request.log.error({ err: error }, "unexpected error");
    const answer = apiError ?? internalError(request.id);
    if (answer.failureReason) scheduler.metrics.requestFailed(answer.failureReason);
    return reply.code(answer.statusCode).headers(answer.headers).send(errorBody(answer));
  });
  app.setNotFoundHandler(async (request) => {
    throw notFound(`No such endpoint: ${request.method} ${request.url.split("?", 1)[0]}.`);
  });

  app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Trine",
        description:
          "OpenAI-compatible inference for MatMul-free (ternary) language models. See docs/API.md.",
        version: trineVersion(),
      },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      security: config.apiKeys.length > 0 ? [{ apiKey: [] }] : [],
    },
  });
  app.register(swaggerUi, { routePrefix: "/docs" });
  for (const endpoint of ENDPOINTS) app.register(endpoint);
  app.register(playground);
  app.addHook("onClose", async () => {
    await scheduler.close();
    await stateStore.close();
  });
  return app;
}
