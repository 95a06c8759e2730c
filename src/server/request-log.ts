import type { FastifyRequest } from "fastify";
import type { RequestRun } from "../scheduler/request-run.js";

declare module "fastify" {
  interface FastifyRequest {
    /** performance.now() when the request arrived: the start of every latency. */
    arrivedAt: number;
    /** Set once a generation request is admitted, for its log line. */
    generation: RequestRun | undefined;
  }
}

/**
 * The one log line per request: its id (pino's reqId), route, status and duration, plus, for a
 * generation, the model, token counts and timings. Prompt text is never in it (see the debug
 * line in the routes).
 */
export function logRequest(request: FastifyRequest, statusCode: number): void {
  const run = request.generation;
  const durationSeconds = (performance.now() - request.arrivedAt) / 1000;
  const line: Record<string, unknown> = {
    method: request.method,
    url: request.url,
    statusCode,
    durationSeconds,
  };
  if (run) {
    const summary = run.summary;
    Object.assign(line, {
      model: request.server.trine.config.modelName,
      promptTokens: summary.promptTokens,
      completionTokens: summary.completionTokens,
      cachedTokens: summary.cachedTokens,
      queueSeconds: summary.queueSeconds,
      timeToFirstTokenSeconds: summary.timeToFirstTokenSeconds,
      totalSeconds: summary.totalSeconds,
      finishReason: summary.finishReasons.length === 1 ? summary.finishReasons[0] : summary.finishReasons,
    });
  }
  request.log.info(line, "request");
}
