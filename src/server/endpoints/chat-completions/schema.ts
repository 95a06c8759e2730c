import Type, { type Static } from "typebox";
import { MAX_TOP_LOGPROBS } from "../../../engine/sampling/index.js";
import { PromptLogprobs } from "../completions/schema.js";
import {
  Closed,
  FinishReason,
  FinishReasonOrNull,
  generationErrors,
  Nullable,
  optional,
  samplingFields,
  Usage,
} from "../shared/schema.js";
import { ResponseFormat, StructuredOutputs } from "../shared/structured-output.js";

/** POST /v1/chat/completions, defined once. */

export const ChatMessage = Type.Object(
  {
    role: Type.Unsafe<"system" | "developer" | "user" | "assistant">({
      type: "string",
      enum: ["system", "developer", "user", "assistant"],
    }),
    content: Type.Optional(
      Type.Unsafe<string | { type: string; text?: string }[] | null>({
        type: ["string", "array", "null"],
        items: {
          type: "object",
          required: ["type"],
          properties: { type: { type: "string" }, text: { type: "string" } },
        },
        description: "A string, or an array of {type: 'text', text} parts.",
      }),
    ),
    name: Type.Optional(
      Type.String({
        description: "Passed to the model's chat template; the default template does not use it.",
      }),
    ),
    refusal: Type.Optional(Nullable(Type.String())),
    tool_calls: Type.Optional(
      Nullable(Type.Array(Type.Unknown()), "Only an empty list is accepted (no tool support)."),
    ),
  },
  { additionalProperties: false },
);
export type ChatMessage = Static<typeof ChatMessage>;

/** A field OpenAI defines whose requested behaviour Trine refuses (see route.ts). */
const refused = (description: string) => Type.Optional(Type.Unknown({ description }));

export const ChatCompletionRequest = Type.Object(
  {
    ...optional(samplingFields),
    messages: Type.Array(ChatMessage, {
      minItems: 1,
      description:
        "At least one. `developer` is treated as `system`. Content parts other than text are a 400 naming them (`messages[i].content[j].type`); an assistant message may carry `refusal` and an empty `tool_calls`, as responses do.",
    }),
    max_tokens: Type.Optional(Nullable(Type.Integer(), "Deprecated spelling of max_completion_tokens.")),
    max_completion_tokens: Type.Optional(
      Nullable(
        Type.Integer(),
        "Most tokens to generate per choice, 1 to the server's --max-output-tokens (also the default). Wins over max_tokens.",
      ),
    ),
    logprobs: Type.Optional(
      Nullable(
        Type.Boolean(),
        "Return the log-probabilities of each output token (token, logprob, UTF-8 bytes, top_logprobs). Default false.",
      ),
    ),
    top_logprobs: Type.Optional(
      Nullable(Type.Integer(), `Alternatives per token (0 to ${MAX_TOP_LOGPROBS}); needs logprobs: true.`),
    ),
    parallel_tool_calls: Type.Optional(Nullable(Type.Boolean(), "Accepted and ignored.")),
    prompt_logprobs: Type.Optional(
      Nullable(
        Type.Integer(),
        `vLLM extra: the response's prompt_logprobs lists every prompt position's logprob, rank and this many alternatives (0 to ${MAX_TOP_LOGPROBS}); not with stream. Default none.`,
      ),
    ),
    echo: Type.Optional(
      Nullable(
        Type.Boolean(),
        "vLLM's echo of the last message is not implemented: only false. To score a prompt use prompt_logprobs, or /v1/completions with echo and logprobs.",
      ),
    ),
    prediction: refused("Accepted and ignored (it only speeds up some servers)."),
    response_format: Type.Optional(Nullable(ResponseFormat)),
    structured_outputs: Type.Optional(Nullable(StructuredOutputs)),
    modalities: Type.Optional(Nullable(Type.Array(Type.String()), "Only ['text'].")),
    tools: refused("Only an empty list: no tool calling."),
    tool_choice: refused("Only 'none'."),
    functions: refused("Only an empty list: no function calling."),
    function_call: refused("Only 'none'."),
    audio: refused("Refused when set."),
    reasoning_effort: refused("Refused when set."),
    verbosity: refused("Refused when set."),
    web_search_options: refused("Refused when set."),
  },
  { additionalProperties: false },
);
export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;

const TokenLogprob = {
  token: Type.String(),
  logprob: Type.Number(),
  bytes: Type.Array(Type.Integer()),
};

export const ChatLogprobs = Closed({
  content: Type.Array(Closed({ ...TokenLogprob, top_logprobs: Type.Array(Closed(TokenLogprob)) })),
  refusal: Type.Null(),
});
export type ChatLogprobs = Static<typeof ChatLogprobs>;

const chatFields = {
  id: Type.String(),
  created: Type.Integer(),
  model: Type.String(),
};

export const ChatCompletionResponse = Closed(
  {
    id: chatFields.id,
    object: Type.Literal("chat.completion"),
    created: chatFields.created,
    model: chatFields.model,
    choices: Type.Array(
      Closed({
        index: Type.Integer(),
        message: Closed({ role: Type.Literal("assistant"), content: Type.String(), refusal: Type.Null() }),
        logprobs: Nullable(ChatLogprobs),
        finish_reason: FinishReason,
      }),
    ),
    usage: Usage,
    prompt_logprobs: Type.Optional(PromptLogprobs),
  },
  "The answer; with stream=true, a text/event-stream of ChatCompletionChunk objects instead.",
);
export type ChatCompletionResponse = Static<typeof ChatCompletionResponse>;

export const ChatCompletionChunk = Closed({
  id: chatFields.id,
  object: Type.Literal("chat.completion.chunk"),
  created: chatFields.created,
  model: chatFields.model,
  choices: Type.Array(
    Closed({
      index: Type.Integer(),
      delta: Closed({
        role: Type.Optional(Type.Literal("assistant")),
        content: Type.Optional(Type.String()),
      }),
      logprobs: Nullable(ChatLogprobs),
      finish_reason: FinishReasonOrNull,
    }),
  ),
  usage: Type.Optional(Nullable(Usage)),
});
export type ChatCompletionChunk = Static<typeof ChatCompletionChunk>;

export const chatCompletionsRoute = {
  summary: "Chat completion",
  tags: ["generation"],
  body: ChatCompletionRequest,
  response: { 200: ChatCompletionResponse, ...generationErrors },
};
