import Type, { type Static } from "typebox";
import { MAX_TOP_LOGPROBS } from "../../../engine/sampling/index.js";
import {
  Closed,
  FinishReasonOrNull,
  generationErrors,
  Nullable,
  NumberMap,
  optional,
  samplingFields,
  Usage,
} from "../shared/schema.js";
import { ResponseFormat, StructuredOutputs } from "../shared/structured-output.js";

/** POST /v1/completions, defined once. */

export const CompletionRequest = Type.Object(
  {
    ...optional(samplingFields),
    prompt: Type.Unsafe<string | (string | number | number[])[]>({
      type: ["string", "array"],
      items: {
        anyOf: [{ type: "string" }, { type: "integer" }, { type: "array", items: { type: "integer" } }],
      },
      minItems: 1,
      description:
        "A string, an array of strings, an array of token ids, or an array of arrays of token ids; each prompt is its own group of n choices, numbered prompt-major (prompt p, choice i has index p × n + i). Text is tokenized with the model's bos; token ids are taken as sent, no bos added (the client owns the tokenisation). An id outside the vocabulary is a 400 naming it (`prompt[1][7]`).",
    }),
    max_tokens: Type.Optional(
      Nullable(
        Type.Integer(),
        "Most tokens to generate per choice, 1 to the server's --max-output-tokens (also the default).",
      ),
    ),
    logprobs: Type.Optional(
      Nullable(
        Type.Integer(),
        `Return the logprobs of each token and of this many alternatives (0 to ${MAX_TOP_LOGPROBS}). Default none.`,
      ),
    ),
    echo: Type.Optional(
      Nullable(
        Type.Boolean(),
        "Prepend the prompt to each choice's text (streamed: one chunk with the prompt first). Cannot be combined with logprobs (400 naming echo). Default false.",
      ),
    ),
    best_of: Type.Optional(Nullable(Type.Integer(), "Only 1; anything else is a 400 naming it.")),
    suffix: Type.Optional(Nullable(Type.String(), "Not supported: a non-null value is a 400 naming it.")),
    response_format: Type.Optional(
      Nullable(ResponseFormat, "An extension (OpenAI has it on chat only): as on chat completions."),
    ),
    structured_outputs: Type.Optional(Nullable(StructuredOutputs)),
  },
  { additionalProperties: false },
);
export type CompletionRequest = Static<typeof CompletionRequest>;

export const CompletionLogprobs = Closed({
  tokens: Type.Array(Type.String()),
  token_logprobs: Type.Array(Type.Number()),
  top_logprobs: Type.Array(NumberMap),
  text_offset: Type.Array(Type.Integer()),
});
export type CompletionLogprobs = Static<typeof CompletionLogprobs>;

const CompletionChoice = Closed({
  index: Type.Integer(),
  text: Type.String(),
  logprobs: Nullable(CompletionLogprobs),
  finish_reason: FinishReasonOrNull,
});
export type CompletionChoice = Static<typeof CompletionChoice>;

const completionFields = {
  id: Type.String(),
  object: Type.Literal("text_completion"),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(CompletionChoice),
};

export const CompletionResponse = Closed(
  { ...completionFields, usage: Usage },
  "The answer; with stream=true, a text/event-stream of CompletionChunk objects instead.",
);
export type CompletionResponse = Static<typeof CompletionResponse>;

/** A streamed event: the response's shape, usage null except on the include_usage chunk. */
export const CompletionChunk = Closed({
  ...completionFields,
  usage: Type.Optional(Nullable(Usage)),
});
export type CompletionChunk = Static<typeof CompletionChunk>;

export const completionsRoute = {
  summary: "Text completion",
  tags: ["generation"],
  body: CompletionRequest,
  response: { 200: CompletionResponse, ...generationErrors },
};
