import Type, { type Static, type TSchema } from "typebox";
import { Closed, ErrorResponse, generationErrors, Nullable, samplingFields } from "../shared/schema.js";

/** POST /v1/responses, GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items, defined once. */

/** A content part of an input message; its type is checked in spec.ts, naming the part. */
const InputContentPart = Type.Object(
  {
    type: Type.String({ description: "`input_text`, or `output_text` in an assistant message." }),
    text: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const InputItem = Type.Object(
  {
    type: Type.Optional(Type.String({ description: "`message` (the default); other item types are a 400." })),
    role: Type.Optional(
      Type.String({ description: "`user`, `assistant`, `system` or `developer` (treated as `system`)." }),
    ),
    content: Type.Optional(
      Type.Unsafe<string | Static<typeof InputContentPart>[]>({
        type: ["string", "array"],
        items: InputContentPart,
        description: "A string, or `input_text` parts (`output_text` parts in an assistant message).",
      }),
    ),
    id: Type.Optional(
      Type.String({ description: "Accepted (an output item sent back); a new id is given." }),
    ),
    status: Type.Optional(Nullable(Type.String(), "Accepted and ignored.")),
  },
  { additionalProperties: true },
);
export type InputItem = Static<typeof InputItem>;

/** A field OpenAI defines that Trine accepts only in its "nothing asked" form (route.ts checks). */
const refused = (description: string) => Type.Optional(Type.Unknown({ description }));

/** `text.format`: OpenAI's flat shape ({type: "json_schema", name, schema, strict}); route.ts checks it. */
export const TextFormat = Type.Object(
  {
    type: Type.String({ description: "`text` (the default), `json_object`, or `json_schema`." }),
    name: Type.Optional(Type.String({ description: "json_schema: letters, digits, _ and -, at most 64." })),
    schema: Type.Optional(
      Type.Unsafe<Record<string, unknown> | boolean>({
        type: ["object", "boolean"],
        description:
          "json_schema: the JSON Schema the output is valid against, enforced on every token by a grammar.",
      }),
    ),
    strict: Type.Optional(
      Nullable(Type.Boolean(), "Accepted either way: the grammar enforces the schema exactly."),
    ),
    description: Type.Optional(Type.String({ description: "Not shown to the model." })),
  },
  { additionalProperties: false },
);
export type TextFormat = Static<typeof TextFormat>;

export const ResponseCreateRequest = Type.Object(
  {
    model: Type.Optional(
      Type.String({
        description: "The served model's id; another id is a 404 `model_not_found`. Default: it.",
      }),
    ),
    input: Type.Unsafe<string | InputItem[]>({
      type: ["string", "array"],
      items: InputItem,
      description:
        "The new turn: a string (one user message) or input items (messages; earlier turns may be sent back as assistant messages with `output_text` parts).",
    }),
    instructions: Type.Optional(
      Nullable(
        Type.String(),
        "A system message before the conversation, for this response only: not inherited through `previous_response_id` (OpenAI's rule).",
      ),
    ),
    previous_response_id: Type.Optional(
      Nullable(
        Type.String(),
        "Continue that stored response's conversation: prefill only the new turn from its stored state. Unknown, deleted, expired or another key's: 404.",
      ),
    ),
    store: Type.Optional(
      Nullable(
        Type.Boolean(),
        "Keep the response, its input and its state for `previous_response_id` and GET. Default true.",
      ),
    ),
    stream: Type.Optional(
      Nullable(Type.Boolean(), "Stream named server-sent events (see Streaming). Default false."),
    ),
    stream_options: Type.Optional(
      Nullable(Type.Object({ include_obfuscation: Type.Optional(Type.Boolean()) }), "Accepted and ignored."),
    ),
    max_output_tokens: Type.Optional(
      Nullable(
        Type.Integer(),
        "Most tokens to generate, 1 to the server's --max-output-tokens (also the default).",
      ),
    ),
    temperature: Type.Optional(samplingFields.temperature),
    top_p: Type.Optional(samplingFields.top_p),
    seed: Type.Optional(samplingFields.seed),
    top_k: Type.Optional(samplingFields.top_k),
    min_p: Type.Optional(samplingFields.min_p),
    repetition_penalty: Type.Optional(samplingFields.repetition_penalty),
    presence_penalty: Type.Optional(samplingFields.presence_penalty),
    frequency_penalty: Type.Optional(samplingFields.frequency_penalty),
    logit_bias: Type.Optional(samplingFields.logit_bias),
    stop: Type.Optional(samplingFields.stop),
    metadata: Type.Optional(
      Nullable(
        Type.Record(Type.String(), Type.String()),
        "Up to 16 string pairs, kept with the response and returned.",
      ),
    ),
    text: Type.Optional(
      Nullable(
        Type.Object(
          {
            format: Type.Optional(TextFormat),
            verbosity: Type.Optional(Nullable(Type.String(), "Accepted and ignored.")),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    truncation: Type.Optional(
      Nullable(
        Type.String(),
        "`disabled` (default): a conversation longer than --max-prompt-tokens is a 400. `auto`: its oldest turns are left out until it fits.",
      ),
    ),
    user: Type.Optional(Type.String({ description: "Accepted and ignored." })),
    safety_identifier: Type.Optional(Type.String({ description: "Accepted and ignored." })),
    prompt_cache_key: Type.Optional(
      Type.String({ description: "Accepted and ignored (states are cached by their exact tokens)." }),
    ),
    service_tier: Type.Optional(Nullable(Type.String(), "Accepted and ignored.")),
    parallel_tool_calls: Type.Optional(Nullable(Type.Boolean(), "Accepted and ignored.")),
    tools: refused("Only an empty list: no tool calling."),
    tool_choice: refused("Only `none` or `auto` (there are no tools)."),
    reasoning: refused("Only null: this model does not reason."),
    include: refused("Only an empty list."),
    background: refused("Only false."),
    top_logprobs: refused("Only 0 or null."),
  },
  { additionalProperties: false },
);
export type ResponseCreateRequest = Static<typeof ResponseCreateRequest>;

export const OutputText = Closed({
  type: Type.Literal("output_text"),
  text: Type.String(),
  annotations: Type.Array(Type.Unknown(), { description: "Always empty." }),
  logprobs: Type.Array(Type.Unknown(), { description: "Always empty." }),
});

const ItemStatus = Type.Union([
  Type.Literal("in_progress"),
  Type.Literal("completed"),
  Type.Literal("incomplete"),
]);

export const OutputMessage = Closed({
  id: Type.String(),
  type: Type.Literal("message"),
  status: ItemStatus,
  role: Type.Literal("assistant"),
  content: Type.Array(OutputText),
});
export type OutputMessage = Static<typeof OutputMessage>;

export const ResponseUsage = Closed({
  input_tokens: Type.Integer({
    description: "The whole conversation's prompt tokens, instructions and framing included.",
  }),
  input_tokens_details: Closed({
    cached_tokens: Type.Integer({
      description: "Of those, the tokens whose state came from the stored conversation or the prefix cache.",
    }),
  }),
  output_tokens: Type.Integer(),
  output_tokens_details: Closed({ reasoning_tokens: Type.Integer() }),
  total_tokens: Type.Integer(),
});
export type ResponseUsage = Static<typeof ResponseUsage>;

export const ResponseStatus = Type.Union([
  Type.Literal("completed"),
  Type.Literal("incomplete"),
  Type.Literal("in_progress"),
  Type.Literal("failed"),
]);

export const ResponseObject = Closed(
  {
    id: Type.String({ description: "`resp_` and 192 random bits." }),
    object: Type.Literal("response"),
    created_at: Type.Integer(),
    completed_at: Nullable(Type.Integer()),
    status: ResponseStatus,
    background: Type.Boolean(),
    error: Type.Union([Closed({ code: Type.String(), message: Type.String() }), Type.Null()]),
    incomplete_details: Type.Union([Closed({ reason: Type.Literal("max_output_tokens") }), Type.Null()]),
    instructions: Nullable(Type.String()),
    max_output_tokens: Nullable(Type.Integer()),
    model: Type.String(),
    output: Type.Array(OutputMessage),
    parallel_tool_calls: Type.Boolean(),
    previous_response_id: Nullable(Type.String()),
    reasoning: Closed({ effort: Type.Null(), summary: Type.Null() }),
    store: Type.Boolean(),
    temperature: Nullable(Type.Number()),
    text: Closed({
      format: Closed({
        type: Type.Union([Type.Literal("text"), Type.Literal("json_object"), Type.Literal("json_schema")]),
        name: Type.Optional(Type.String()),
        schema: Type.Optional(Type.Unknown()),
        strict: Type.Optional(Nullable(Type.Boolean())),
        description: Type.Optional(Type.String()),
      }),
    }),
    tool_choice: Type.String(),
    tools: Type.Array(Type.Unknown()),
    top_p: Nullable(Type.Number()),
    truncation: Type.String(),
    usage: Type.Union([ResponseUsage, Type.Null()]),
    metadata: Type.Record(Type.String(), Type.String()),
  },
  "The response; with stream=true, a text/event-stream of named events instead.",
);
export type ResponseObject = Static<typeof ResponseObject>;

/** An input item as stored and listed: every message gets an id. */
export const StoredInputItem = Closed({
  id: Type.String(),
  type: Type.Literal("message"),
  role: Type.String(),
  status: Type.Literal("completed"),
  content: Type.Array(
    Closed({
      type: Type.String(),
      text: Type.String(),
      annotations: Type.Optional(Type.Array(Type.Unknown())),
    }),
  ),
});
export type StoredInputItem = Static<typeof StoredInputItem>;

export const InputItemList = Closed({
  object: Type.Literal("list"),
  data: Type.Array(StoredInputItem),
  first_id: Nullable(Type.String()),
  last_id: Nullable(Type.String()),
  has_more: Type.Boolean(),
});
export type InputItemList = Static<typeof InputItemList>;

export const ResponseDeleted = Closed({
  id: Type.String(),
  object: Type.Literal("response"),
  deleted: Type.Literal(true),
});

const ResponseIdParams = Type.Object({ id: Type.String() }, { additionalProperties: false });

/** The named stream events, each with its sequence_number (OpenAI's order; route.ts writes them). */
const seq = { sequence_number: Type.Integer() };
const at = { output_index: Type.Integer(), content_index: Type.Integer(), item_id: Type.String() };
const event = <T extends Record<string, TSchema>>(type: string, fields: T) =>
  Closed({ type: Type.Literal(type), ...seq, ...fields });

export const StreamEvents = {
  "response.created": event("response.created", { response: ResponseObject }),
  "response.in_progress": event("response.in_progress", { response: ResponseObject }),
  "response.output_item.added": event("response.output_item.added", {
    output_index: Type.Integer(),
    item: OutputMessage,
  }),
  "response.content_part.added": event("response.content_part.added", { ...at, part: OutputText }),
  "response.output_text.delta": event("response.output_text.delta", {
    ...at,
    delta: Type.String(),
    logprobs: Type.Array(Type.Unknown()),
  }),
  "response.output_text.done": event("response.output_text.done", {
    ...at,
    text: Type.String(),
    logprobs: Type.Array(Type.Unknown()),
  }),
  "response.content_part.done": event("response.content_part.done", { ...at, part: OutputText }),
  "response.output_item.done": event("response.output_item.done", {
    output_index: Type.Integer(),
    item: OutputMessage,
  }),
  "response.completed": event("response.completed", { response: ResponseObject }),
  "response.incomplete": event("response.incomplete", { response: ResponseObject }),
  "response.failed": event("response.failed", { response: ResponseObject }),
  error: event("error", {
    code: Nullable(Type.String()),
    message: Type.String(),
    param: Nullable(Type.String()),
  }),
};
export type StreamEventName = keyof typeof StreamEvents;
export type StreamEvent<N extends StreamEventName> = Omit<
  Static<(typeof StreamEvents)[N]>,
  "sequence_number"
>;

const responseErrors = { ...generationErrors, 404: ErrorResponse };

export const createResponseRoute = {
  summary: "Create a response (Responses API)",
  tags: ["generation"],
  body: ResponseCreateRequest,
  response: { 200: ResponseObject, ...responseErrors },
};

export const getResponseRoute = {
  summary: "A stored response",
  tags: ["responses"],
  params: ResponseIdParams,
  querystring: Type.Object(
    { include: Type.Optional(Type.Unknown({ description: "Accepted and ignored." })) },
    { additionalProperties: false },
  ),
  response: {
    200: ResponseObject,
    400: ErrorResponse,
    401: ErrorResponse,
    404: ErrorResponse,
    503: ErrorResponse,
  },
};

export const deleteResponseRoute = {
  summary: "Delete a stored response",
  tags: ["responses"],
  params: ResponseIdParams,
  response: { 200: ResponseDeleted, 401: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse },
};

export const inputItemsRoute = {
  summary: "A stored response's input items",
  tags: ["responses"],
  params: ResponseIdParams,
  querystring: Type.Object(
    {
      limit: Type.Optional(Type.String({ description: "1 to 100; default 20." })),
      order: Type.Optional(Type.String({ description: "`asc` or `desc` (the default)." })),
      after: Type.Optional(Type.String({ description: "An item id: list the items after it." })),
      include: Type.Optional(Type.Unknown({ description: "Accepted and ignored." })),
    },
    { additionalProperties: false },
  ),
  response: {
    200: InputItemList,
    400: ErrorResponse,
    401: ErrorResponse,
    404: ErrorResponse,
    503: ErrorResponse,
  },
};
