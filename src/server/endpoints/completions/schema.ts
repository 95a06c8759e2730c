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
        "Most tokens to generate per choice, 1 to the server's --max-output-tokens (also the default); 0 with echo: nothing generated, the prompt echoed (and scored, with logprobs).",
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
        "Prepend the prompt to each choice's text (streamed: one chunk with the prompt first). With logprobs, the prompt's tokens come first in logprobs, scored (position 0 null); with max_tokens 0 the prompt is only scored. Default false.",
      ),
    ),
    prompt_logprobs: Type.Optional(
      Nullable(
        Type.Integer(),
        `vLLM extra: each choice's prompt_logprobs lists every prompt position's logprob, rank and this many alternatives (0 to ${MAX_TOP_LOGPROBS}). Default none.`,
      ),
    ),
    best_of: Type.Optional(
      Nullable(
        Type.Integer(),
        "Candidates per prompt, n to 128 (default n): generated together, the n with the highest mean token logprob returned, best first; usage counts every candidate. Not with stream when greater than n.",
      ),
    ),
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
  token_logprobs: Type.Array(Nullable(Type.Number()), {
    description: "null only for an echoed prompt's first token, which nothing before it predicts.",
  }),
  top_logprobs: Type.Array(Nullable(NumberMap)),
  text_offset: Type.Array(Type.Integer()),
});
export type CompletionLogprobs = Static<typeof CompletionLogprobs>;

/** vLLM's prompt_logprobs: per prompt position null (the first) or token id -> its score. */
const PromptTokenScore = Closed({
  logprob: Type.Number(),
  rank: Type.Integer(),
  decoded_token: Type.String(),
});
export const PromptLogprobs = Type.Array(
  // A type list, not an anyOf union: fast-json-stringify would validate each value to pick a branch.
  Type.Unsafe<Record<string, Static<typeof PromptTokenScore>> | null>({
    type: ["object", "null"],
    additionalProperties: PromptTokenScore,
  }),
  { description: "vLLM's prompt_logprobs: the prompt token's score and the alternatives', by token id." },
);
export type PromptLogprobs = Static<typeof PromptLogprobs>;

const CompletionChoice = Closed({
  index: Type.Integer(),
  text: Type.String(),
  logprobs: Nullable(CompletionLogprobs),
  finish_reason: FinishReasonOrNull,
  prompt_logprobs: Type.Optional(PromptLogprobs),
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
