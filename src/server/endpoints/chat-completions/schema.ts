import Type, { type Static } from "typebox";
import { MAX_TOP_LOGPROBS } from "../../../engine/sampling/index.js";
import { PromptLogprobs } from "../completions/schema.js";
import { Closed, generationErrors, Nullable, optional, samplingFields, Usage } from "../shared/schema.js";
import { ResponseFormat, StructuredOutputs } from "../shared/structured-output.js";

/** POST /v1/chat/completions, defined once. */

/** A function call, in an assistant message of the history and in a response. */
export const ToolCall = Closed({
  id: Type.String(),
  type: Type.Literal("function"),
  function: Closed({
    name: Type.String(),
    arguments: Type.String({ description: "The arguments as JSON text." }),
  }),
});

export const FunctionTool = Type.Object(
  {
    type: Type.Literal("function"),
    function: Type.Object(
      {
        name: Type.String({ pattern: "^[a-zA-Z0-9_-]{1,64}$" }),
        description: Type.Optional(Type.String()),
        parameters: Type.Optional(
          Type.Record(Type.String(), Type.Unknown(), {
            description: "A JSON Schema of the arguments (absent: none); calls are constrained to it.",
          }),
        ),
        strict: Type.Optional(Nullable(Type.Boolean(), "Either way, the arguments are constrained.")),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const ToolChoice = Type.Unsafe<
  "none" | "auto" | "required" | { type: "function"; function: { name: string } } | null
>({
  type: ["string", "object", "null"],
  properties: {
    type: { type: "string", enum: ["function"] },
    function: {
      type: "object",
      properties: { name: { type: "string" } },
      required: ["name"],
      additionalProperties: false,
    },
  },
  required: ["type", "function"],
  additionalProperties: false,
  pattern: "^(none|auto|required)$",
  description:
    '`none`, `auto` (the default with tools), `required` (at least one call), or `{"type": "function", "function": {"name"}}` (that call).',
});

const ChatFinishReason = Type.Unsafe<"stop" | "length" | "tool_calls">({
  type: "string",
  enum: ["stop", "length", "tool_calls"],
});
const ChatFinishReasonOrNull = Type.Unsafe<"stop" | "length" | "tool_calls" | null>({
  type: ["string", "null"],
  enum: ["stop", "length", "tool_calls", null],
});

/** A call as a stream chunk carries it: whole, in one chunk. */
const ToolCallDelta = Closed({
  index: Type.Integer(),
  id: Type.String(),
  type: Type.Literal("function"),
  function: Closed({ name: Type.String(), arguments: Type.String() }),
});

export const ChatMessage = Type.Object(
  {
    role: Type.Unsafe<"system" | "developer" | "user" | "assistant" | "tool">({
      type: "string",
      enum: ["system", "developer", "user", "assistant", "tool"],
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
      Nullable(
        Type.Array(ToolCall),
        "An assistant message's calls, as a response gave them; the template shows them to the model.",
      ),
    ),
    tool_call_id: Type.Optional(
      Type.String({ description: "A `tool` message's answer to the call with this id." }),
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
        "At least one. `developer` is treated as `system`. Content parts other than text are a 400 naming them (`messages[i].content[j].type`); an assistant message may carry `refusal` and `tool_calls`, as responses do; a `tool` message answers a call (`tool_call_id`).",
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
    parallel_tool_calls: Type.Optional(
      Nullable(Type.Boolean(), "false: at most one call per answer. Default true."),
    ),
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
    tools: Type.Optional(Nullable(Type.Array(FunctionTool), "Functions the model may call.")),
    tool_choice: Type.Optional(ToolChoice),
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
        message: Closed({
          role: Type.Literal("assistant"),
          content: Nullable(Type.String()),
          refusal: Type.Null(),
          tool_calls: Type.Optional(Type.Array(ToolCall)),
        }),
        logprobs: Nullable(ChatLogprobs),
        finish_reason: ChatFinishReason,
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
        tool_calls: Type.Optional(Type.Array(ToolCallDelta)),
      }),
      logprobs: Nullable(ChatLogprobs),
      finish_reason: ChatFinishReasonOrNull,
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
