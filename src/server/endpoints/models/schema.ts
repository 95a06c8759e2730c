import Type, { type Static } from "typebox";
import { Closed, ErrorResponse } from "../shared/schema.js";

/** GET /v1/models and GET /v1/models/{id}, defined once. */

export const ModelCard = Closed({
  id: Type.String(),
  object: Type.Literal("model"),
  created: Type.Integer(),
  owned_by: Type.String(),
  max_prompt_tokens: Type.Integer({ description: "Trine's prompt token limit for this model." }),
  max_output_tokens: Type.Integer({ description: "Trine's default and cap of max_tokens." }),
});
export type ModelCard = Static<typeof ModelCard>;

export const listModelsRoute = {
  summary: "List the served model",
  tags: ["models"],
  response: {
    200: Closed({ object: Type.Literal("list"), data: Type.Array(ModelCard) }),
    401: ErrorResponse,
    503: ErrorResponse,
  },
};

export const getModelRoute = {
  summary: "Describe a model",
  tags: ["models"],
  params: Type.Object({ id: Type.String() }),
  response: { 200: ModelCard, 401: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse },
};
