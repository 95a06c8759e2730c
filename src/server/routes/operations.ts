import type { FastifyInstance } from "fastify";
import { ServiceUnavailableError } from "../errors.js";
import { healthRouteSchema, metricsRouteSchema, readyRouteSchema } from "../protocol.js";

/** GET /health, /ready and /metrics: open even when API keys are configured. */
export async function operationsRoutes(app: FastifyInstance): Promise<void> {
  const { service } = app.trine;

  app.get("/health", { schema: healthRouteSchema }, async () => ({ status: "ok" }));

  // Answered here rather than thrown: a probe seeing 503 is not a failed request.
  app.get("/ready", { schema: readyRouteSchema }, async (_request, reply) => {
    const notReady =
      service.state === "loading"
        ? new ServiceUnavailableError("The model is still loading.", "loading")
        : service.state !== "ready"
          ? new ServiceUnavailableError("The server is shutting down.", "draining")
          : service.admission.saturated
            ? new ServiceUnavailableError("Every sequence slot is busy and the queue is full.", "saturated")
            : undefined;
    if (notReady) return reply.code(503).send(notReady.toBody());
    return { status: "ready" };
  });

  app.get("/metrics", { schema: metricsRouteSchema }, async (_request, reply) => {
    reply.type(service.metrics.registry.contentType);
    return service.metrics.registry.metrics();
  });
}
