import Type, { type Static } from "typebox";
import { Closed, ErrorResponse, Nullable } from "../shared/schema.js";

/** GET /v1/models/{id}/details, defined once: what a client (the playground) needs beyond the card. */

export const GenerationDefaults = Closed(
  {
    temperature: Type.Number(),
    top_p: Type.Number(),
    top_k: Type.Integer(),
    min_p: Type.Number(),
    repetition_penalty: Type.Number(),
    presence_penalty: Type.Number(),
    frequency_penalty: Type.Number(),
    max_tokens: Type.Integer({ description: "The server's --max-output-tokens." }),
  },
  "What a request that leaves a field out gets: the model's generation_config.json, else the engine's default.",
);

export const ModelDetails = Closed({
  id: Type.String(),
  object: Type.Literal("model.details"),
  generation_defaults: GenerationDefaults,
  architecture: Closed(
    {
      model_type: Type.String(),
      layers: Type.Integer(),
      hidden_size: Type.Integer(),
      intermediate_size: Type.Integer(),
      vocab_size: Type.Integer(),
    },
    "From the model directory's config.json.",
  ),
  summary: Nullable(
    Type.String(),
    "The first paragraph of the model directory's MODEL_CARD.md (or README.md), as plain text; null when it has neither.",
  ),
});
export type ModelDetails = Static<typeof ModelDetails>;

export const modelDetailsRoute = {
  summary: "Describe the served model: sampling defaults, architecture, model card summary",
  tags: ["models"],
  params: Type.Object({ id: Type.String() }),
  response: { 200: ModelDetails, 401: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse },
};
