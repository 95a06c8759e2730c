/**
 * The OpenAI wire format as Trine speaks it: every request field we accept and every response
 * field we return, as TypeScript types and as the JSON schemas that validate requests (Fastify's
 * ajv) and document the API (/docs). A field not declared here is refused with 400, so nothing a
 * client asks for is silently ignored; the few declared fields that Trine accepts without acting
 * on them change nothing in the output (user, metadata, store, service_tier, prediction,
 * parallel_tool_calls).
 */

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** OpenAI's upper bound on `n`. */
export const MAX_CHOICES = 128;

const nullable = (type: string | string[], extra: Record<string, unknown> = {}) => ({
  type: [...(Array.isArray(type) ? type : [type]), "null"],
  ...extra,
});

const describe = (description: string, schema: Record<string, unknown>) => ({ ...schema, description });

export const errorResponseSchema = {
  type: "object",
  description: "OpenAI's error object.",
  properties: {
    error: {
      type: "object",
      properties: {
        message: { type: "string" },
        type: { type: "string" },
        param: nullable("string"),
        code: nullable("string"),
      },
      required: ["message", "type", "param", "code"],
    },
  },
  required: ["error"],
} as const;

/** Error answers every generation route documents. */
const errorResponses = {
  400: errorResponseSchema,
  401: errorResponseSchema,
  404: errorResponseSchema,
  413: errorResponseSchema,
  429: errorResponseSchema,
  500: errorResponseSchema,
  503: errorResponseSchema,
};

export interface StreamOptions {
  include_usage?: boolean | null;
}

/** Sampling fields completions and chat share. */
export interface SamplingFields {
  model: string;
  temperature?: number | null;
  top_p?: number | null;
  n?: number | null;
  stop?: string | string[] | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  stream?: boolean | null;
  stream_options?: StreamOptions | null;
  /** vLLM's extras. */
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  /** Accepted and ignored: none of them changes the output. */
  user?: string;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  service_tier?: string | null;
}

const samplingProperties = {
  model: describe("The served model's id (GET /v1/models).", { type: "string" }),
  temperature: describe("0 to 2; 0 is greedy decoding.", nullable("number")),
  top_p: describe(
    "Nucleus sampling: keep the most likely tokens up to this probability mass (0, 1].",
    nullable("number"),
  ),
  n: describe(
    `Choices per prompt, 1 to ${MAX_CHOICES}; with a seed, choice i samples with seed + i.`,
    nullable("integer"),
  ),
  stop: describe("Up to 16 strings that end a choice; the stop string is not returned.", {
    type: ["string", "array", "null"],
    items: { type: "string" },
  }),
  seed: describe("Makes sampling reproducible.", nullable("integer")),
  presence_penalty: describe("-2 to 2.", nullable("number")),
  frequency_penalty: describe("-2 to 2.", nullable("number")),
  logit_bias: describe(
    "Token id → bias (-100 to 100) added to its logit.",
    nullable("object", {
      additionalProperties: { type: "number" },
    }),
  ),
  stream: describe("Stream the answer as server-sent events.", nullable("boolean")),
  stream_options: nullable("object", {
    properties: { include_usage: nullable("boolean") },
    additionalProperties: false,
  }),
  top_k: describe("Keep the k most likely tokens; 0 turns it off.", nullable("integer")),
  min_p: describe(
    "Keep tokens at least min_p times as likely as the most likely one; 0 turns it off.",
    nullable("number"),
  ),
  repetition_penalty: describe("The HF/CTRL repetition penalty; 1 turns it off.", nullable("number")),
  user: describe("Accepted and ignored.", { type: "string" }),
  metadata: describe(
    "Accepted and ignored.",
    nullable("object", { additionalProperties: { type: "string" } }),
  ),
  store: describe("Accepted and ignored.", nullable("boolean")),
  service_tier: describe("Accepted and ignored.", nullable("string")),
};

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

const usageSchema = {
  type: "object",
  properties: {
    prompt_tokens: { type: "integer" },
    completion_tokens: { type: "integer" },
    total_tokens: { type: "integer" },
    prompt_tokens_details: {
      type: "object",
      properties: {
        cached_tokens: describe("Prompt tokens whose state came from the prefix state cache.", {
          type: "integer",
        }),
      },
    },
  },
};

export type FinishReasonWire = "stop" | "length";

// ---------------------------------------------------------------------------------------------
// POST /v1/completions

export interface CompletionRequest extends SamplingFields {
  prompt: string | string[];
  max_tokens?: number | null;
  logprobs?: number | null;
  echo?: boolean | null;
  /** Refused unless 1. */
  best_of?: number | null;
  /** Refused unless null. */
  suffix?: string | null;
}

export const completionRequestSchema = {
  type: "object",
  required: ["model", "prompt"],
  additionalProperties: false,
  properties: {
    ...samplingProperties,
    prompt: describe("A prompt, or an array of prompts: each is its own group of n choices.", {
      type: ["string", "array"],
      items: { type: "string" },
      minItems: 1,
    }),
    max_tokens: describe(
      "Most tokens to generate per choice (default and cap: the server's --max-output-tokens).",
      nullable("integer"),
    ),
    logprobs: describe(
      "Return the logprobs of each token and of this many alternatives (0 to 20).",
      nullable("integer"),
    ),
    echo: describe(
      "Return the prompt before the completion. Cannot be combined with logprobs.",
      nullable("boolean"),
    ),
    best_of: describe("Only 1 is supported.", nullable("integer")),
    suffix: describe("Not supported (must be null).", nullable("string")),
  },
} as const;

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogprobs | null;
  finish_reason: FinishReasonWire | null;
}

export interface CompletionResponse {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: CompletionChoice[];
  /** Always in a response; in a stream, null except on the include_usage chunk. */
  usage?: Usage | null;
}

const completionLogprobsSchema = nullable("object", {
  properties: {
    tokens: { type: "array", items: { type: "string" } },
    token_logprobs: { type: "array", items: { type: "number" } },
    top_logprobs: { type: "array", items: { type: "object", additionalProperties: { type: "number" } } },
    text_offset: { type: "array", items: { type: "integer" } },
  },
});

export const completionResponseSchema = {
  type: "object",
  description: "The answer; with stream=true, a text/event-stream of chunks of this shape instead.",
  properties: {
    id: { type: "string" },
    object: { type: "string", enum: ["text_completion"] },
    created: { type: "integer" },
    model: { type: "string" },
    choices: {
      type: "array",
      items: {
        type: "object",
        properties: {
          index: { type: "integer" },
          text: { type: "string" },
          logprobs: completionLogprobsSchema,
          finish_reason: nullable("string", { enum: ["stop", "length", null] }),
        },
      },
    },
    usage: usageSchema,
  },
} as const;

export const completionRouteSchema = {
  summary: "Text completion",
  tags: ["generation"],
  body: completionRequestSchema,
  response: { 200: completionResponseSchema, ...errorResponses },
};

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions

export interface ChatContentPart {
  type: string;
  text?: string;
}

export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant";
  content?: string | ChatContentPart[] | null;
  name?: string;
  /** What a previous response's message carries; accepted when empty. */
  refusal?: string | null;
  tool_calls?: unknown[] | null;
}

export interface ChatCompletionRequest extends SamplingFields {
  messages: ChatMessage[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  /** Accepted and ignored. */
  parallel_tool_calls?: boolean | null;
  prediction?: unknown;
  /** Refused when they ask for something (see chat-completions.ts). */
  response_format?: { type: string } | null;
  tools?: unknown[] | null;
  tool_choice?: unknown;
  functions?: unknown[] | null;
  function_call?: unknown;
  modalities?: string[] | null;
  audio?: unknown;
  reasoning_effort?: string | null;
  verbosity?: string | null;
  web_search_options?: unknown;
}

export const chatMessageSchema = {
  type: "object",
  required: ["role"],
  additionalProperties: false,
  properties: {
    role: { type: "string", enum: ["system", "developer", "user", "assistant"] },
    content: describe("A string, or an array of {type: 'text', text} parts.", {
      type: ["string", "array", "null"],
      items: {
        type: "object",
        required: ["type"],
        properties: { type: { type: "string" }, text: { type: "string" } },
      },
    }),
    name: describe("Passed to the model's chat template; the default template does not use it.", {
      type: "string",
    }),
    refusal: nullable("string"),
    tool_calls: describe("Only an empty list is accepted (no tool support).", nullable("array")),
  },
} as const;

const refusedUnlessEmpty = (description: string) => describe(description, {});

export const chatCompletionRequestSchema = {
  type: "object",
  required: ["model", "messages"],
  additionalProperties: false,
  properties: {
    ...samplingProperties,
    messages: { type: "array", minItems: 1, items: chatMessageSchema },
    max_tokens: describe("Deprecated spelling of max_completion_tokens.", nullable("integer")),
    max_completion_tokens: describe(
      "Most tokens to generate per choice (default and cap: the server's --max-output-tokens).",
      nullable("integer"),
    ),
    logprobs: describe("Return the logprobs of each output token.", nullable("boolean")),
    top_logprobs: describe("Alternatives per token (0 to 20); needs logprobs: true.", nullable("integer")),
    parallel_tool_calls: describe("Accepted and ignored.", nullable("boolean")),
    prediction: describe("Accepted and ignored (it only speeds up some servers).", {}),
    response_format: describe(
      "Only {type: 'text'}.",
      nullable("object", {
        properties: { type: { type: "string" } },
        required: ["type"],
      }),
    ),
    modalities: describe("Only ['text'].", nullable("array", { items: { type: "string" } })),
    tools: refusedUnlessEmpty("Not supported."),
    tool_choice: refusedUnlessEmpty("Only 'none'."),
    functions: refusedUnlessEmpty("Not supported."),
    function_call: refusedUnlessEmpty("Only 'none'."),
    audio: refusedUnlessEmpty("Not supported."),
    reasoning_effort: refusedUnlessEmpty("Not supported."),
    verbosity: refusedUnlessEmpty("Not supported."),
    web_search_options: refusedUnlessEmpty("Not supported."),
  },
} as const;

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface ChatLogprobs {
  content: ChatTokenLogprob[];
  refusal: null;
}

export interface ChatCompletionChoice {
  index: number;
  message: { role: "assistant"; content: string; refusal: null };
  logprobs: ChatLogprobs | null;
  finish_reason: FinishReasonWire;
}

export interface ChatCompletionResponse {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string };
    logprobs: ChatLogprobs | null;
    finish_reason: FinishReasonWire | null;
  }[];
  usage?: Usage | null;
}

const chatLogprobsSchema = nullable("object", {
  properties: {
    content: {
      type: "array",
      items: {
        type: "object",
        properties: {
          token: { type: "string" },
          logprob: { type: "number" },
          bytes: { type: "array", items: { type: "integer" } },
          top_logprobs: { type: "array", items: { type: "object" } },
        },
      },
    },
    refusal: { type: "null" },
  },
});

export const chatCompletionResponseSchema = {
  type: "object",
  description: "The answer; with stream=true, a text/event-stream of chat.completion.chunk objects instead.",
  properties: {
    id: { type: "string" },
    object: { type: "string", enum: ["chat.completion"] },
    created: { type: "integer" },
    model: { type: "string" },
    choices: {
      type: "array",
      items: {
        type: "object",
        properties: {
          index: { type: "integer" },
          message: {
            type: "object",
            properties: { role: { type: "string" }, content: { type: "string" }, refusal: { type: "null" } },
          },
          logprobs: chatLogprobsSchema,
          finish_reason: { type: "string", enum: ["stop", "length"] },
        },
      },
    },
    usage: usageSchema,
  },
} as const;

export const chatCompletionRouteSchema = {
  summary: "Chat completion",
  tags: ["generation"],
  body: chatCompletionRequestSchema,
  response: { 200: chatCompletionResponseSchema, ...errorResponses },
};

// ---------------------------------------------------------------------------------------------
// GET /v1/models, GET /v1/models/{id}

export interface ModelCard {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  /** Trine's limits for this model. */
  max_prompt_tokens: number;
  max_output_tokens: number;
}

const modelCardSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    object: { type: "string", enum: ["model"] },
    created: { type: "integer" },
    owned_by: { type: "string" },
    max_prompt_tokens: { type: "integer" },
    max_output_tokens: { type: "integer" },
  },
} as const;

export const listModelsRouteSchema = {
  summary: "List the served model",
  tags: ["models"],
  response: {
    200: {
      type: "object",
      properties: { object: { type: "string" }, data: { type: "array", items: modelCardSchema } },
    },
    401: errorResponseSchema,
  },
};

export const getModelRouteSchema = {
  summary: "Describe a model",
  tags: ["models"],
  params: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
  response: { 200: modelCardSchema, 401: errorResponseSchema, 404: errorResponseSchema },
};

// ---------------------------------------------------------------------------------------------
// POST /tokenize, POST /detokenize (vLLM's shapes)

export interface TokenizeRequest {
  model?: string;
  prompt?: string;
  messages?: ChatMessage[];
  /** For a prompt: frame it as completions do (bos). Default true. */
  add_special_tokens?: boolean;
  /** For messages: end with the assistant's turn opening, as chat completions do. Default true. */
  add_generation_prompt?: boolean;
}

export interface TokenizeResponse {
  tokens: number[];
  count: number;
  max_model_len: number;
}

export const tokenizeRouteSchema = {
  summary: "Tokenize a prompt or chat messages exactly as generation would",
  tags: ["tokenizer"],
  body: {
    type: "object",
    additionalProperties: false,
    properties: {
      model: { type: "string" },
      prompt: { type: "string" },
      messages: { type: "array", minItems: 1, items: chatMessageSchema },
      add_special_tokens: { type: "boolean" },
      add_generation_prompt: { type: "boolean" },
    },
  },
  response: {
    200: {
      type: "object",
      properties: {
        tokens: { type: "array", items: { type: "integer" } },
        count: { type: "integer" },
        max_model_len: describe("The server's prompt token limit.", { type: "integer" }),
      },
    },
    400: errorResponseSchema,
    401: errorResponseSchema,
    404: errorResponseSchema,
  },
};

export interface DetokenizeRequest {
  model?: string;
  tokens: number[];
}

export const detokenizeRouteSchema = {
  summary: "Turn token ids back into text",
  tags: ["tokenizer"],
  body: {
    type: "object",
    required: ["tokens"],
    additionalProperties: false,
    properties: { model: { type: "string" }, tokens: { type: "array", items: { type: "integer" } } },
  },
  response: {
    200: { type: "object", properties: { prompt: { type: "string" } } },
    400: errorResponseSchema,
    401: errorResponseSchema,
    404: errorResponseSchema,
  },
};

// ---------------------------------------------------------------------------------------------
// Operations: GET /health, /ready, /metrics

export const healthRouteSchema = {
  summary: "Liveness: 200 while the process runs",
  tags: ["operations"],
  response: { 200: { type: "object", properties: { status: { type: "string" } } } },
};

export const readyRouteSchema = {
  summary: "Readiness: 503 while loading, draining for shutdown, or saturated",
  tags: ["operations"],
  response: { 200: { type: "object", properties: { status: { type: "string" } } }, 503: errorResponseSchema },
};

export const metricsRouteSchema = {
  summary: "Prometheus metrics (docs/METRICS.md)",
  tags: ["operations"],
  response: { 200: { type: "string" } },
};
