import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { errorBody, serviceUnavailable } from "../../errors.js";
import { healthRoute, metricsRoute, readyRoute } from "./schema.js";

/** GET /health, /ready and /metrics: open even when API keys are configured. */
export async function operationsEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler } = app.trine;

  app.get("/health", { schema: healthRoute }, async () => ({ status: "ok" as const }));

  // Answered here rather than thrown: a probe seeing 503 is not a failed request.
  app.get("/ready", { schema: readyRoute }, async (_request, reply) => {
    const notReady =
      scheduler.state === "loading"
        ? serviceUnavailable("The model is still loading.", "loading")
        : scheduler.state !== "ready"
          ? serviceUnavailable("The server is shutting down.", "draining")
          : scheduler.admission.saturated
            ? serviceUnavailable("Every sequence slot is busy and the queue is full.", "saturated")
            : undefined;
    if (notReady) return reply.code(503).send(errorBody(notReady));
    return { status: "ready" as const, state_store: await app.trine.stateStore.status() };
  });

  app.get("/metrics", { schema: metricsRoute }, async (_request, reply) => {
    reply.type(scheduler.metrics.registry.contentType);
    return scheduler.metrics.registry.metrics();
  });
}
