import type { FastifyInstance } from "fastify";
import { modelNotFound } from "../errors.js";
import { getModelRouteSchema, listModelsRouteSchema, type ModelCard } from "../protocol.js";

/** GET /v1/models and GET /v1/models/{id}: the one served model. */
export async function modelRoutes(app: FastifyInstance): Promise<void> {
  const { service, config } = app.trine;
  const card = (): ModelCard => ({
    id: config.modelName,
    object: "model",
    created: service.model().created,
    owned_by: "trine",
    max_prompt_tokens: config.maxPromptTokens,
    max_output_tokens: config.maxOutputTokens,
  });

  app.get("/v1/models", { schema: listModelsRouteSchema }, async () => ({ object: "list", data: [card()] }));

  app.get("/v1/models/:id", { schema: getModelRouteSchema }, async (request) => {
    const { id } = request.params as { id: string };
    if (id !== config.modelName) throw modelNotFound(id);
    return card();
  });
}
