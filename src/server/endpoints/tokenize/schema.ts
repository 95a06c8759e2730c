import Type, { type Static } from "typebox";
import { ChatMessage } from "../chat-completions/schema.js";
import { Closed, ErrorResponse } from "../shared/schema.js";

/** POST /tokenize and POST /detokenize (vLLM's shapes), defined once. */

export const TokenizeRequest = Type.Object(
  {
    model: Type.Optional(Type.String()),
    prompt: Type.Optional(Type.String({ description: "Text to tokenize; send this or messages." })),
    messages: Type.Optional(
      Type.Array(ChatMessage, { minItems: 1, description: "A chat to template and tokenize." }),
    ),
    add_special_tokens: Type.Optional(
      Type.Boolean({ description: "For a prompt: frame it as completions do (bos). Default true." }),
    ),
    add_generation_prompt: Type.Optional(
      Type.Boolean({
        description:
          "For messages: end with the assistant's turn opening, as chat completions do. Default true.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type TokenizeRequest = Static<typeof TokenizeRequest>;

export const TokenizeResponse = Closed({
  tokens: Type.Array(Type.Integer()),
  count: Type.Integer(),
  max_model_len: Type.Integer({ description: "The server's prompt token limit." }),
});
export type TokenizeResponse = Static<typeof TokenizeResponse>;

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse };

export const tokenizeRoute = {
  summary: "Tokenize a prompt or chat messages exactly as generation would",
  tags: ["tokenizer"],
  body: TokenizeRequest,
  response: { 200: TokenizeResponse, ...errors },
};

export const DetokenizeRequest = Type.Object(
  { model: Type.Optional(Type.String()), tokens: Type.Array(Type.Integer()) },
  { additionalProperties: false },
);

export const detokenizeRoute = {
  summary: "Turn token ids back into text",
  tags: ["tokenizer"],
  body: DetokenizeRequest,
  response: { 200: Closed({ prompt: Type.String() }), ...errors },
};
