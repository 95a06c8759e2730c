import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { modelNotFound } from "../../errors.js";
import { getModelRoute, listModelsRoute, type ModelCard } from "./schema.js";

/** GET /v1/models and GET /v1/models/{id}: the one served model. */
export async function modelsEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler, config } = app.trine;
  const card = (): ModelCard => ({
    id: config.modelName,
    object: "model",
    created: scheduler.model().created,
    owned_by: "trine",
    max_prompt_tokens: config.maxPromptTokens,
    max_output_tokens: config.maxOutputTokens,
  });

  app.get("/v1/models", { schema: listModelsRoute }, async () => ({
    object: "list" as const,
    data: [card()],
  }));

  app.get("/v1/models/:id", { schema: getModelRoute }, async (request) => {
    if (request.params.id !== config.modelName) throw modelNotFound(request.params.id);
    return card();
  });
}
