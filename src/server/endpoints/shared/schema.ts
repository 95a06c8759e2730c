import Type, { type Static, type TSchema } from "typebox";
import {
  MAX_LOGIT_BIAS_MAGNITUDE,
  MAX_PENALTY_MAGNITUDE,
  MAX_STOP_STRING_LENGTH,
  MAX_STOP_STRINGS,
  MAX_TEMPERATURE,
} from "../../../engine/sampling/index.js";

/**
 * The pieces of the OpenAI wire format that several endpoints share, as TypeBox schemas: each is
 * at once the TypeScript type, the request validation (Fastify's ajv), the response serialiser
 * (fast-json-stringify), the OpenAPI document and the field tables of docs/API.md. A request
 * field not declared is refused with 400, so nothing a client asks for is silently ignored.
 * Value ranges are checked where the sequence spec is built (the descriptions state them), so
 * that the server and the CLI refuse the same values with the same words.
 */

/** OpenAI's upper bound on `n`. */
export const MAX_CHOICES = 128;

/** A value of `schema` (a primitive or an object), or null. */
export function Nullable<T extends TSchema>(schema: T, description?: string) {
  const { type, ...rest } = schema as unknown as { type: string | string[] };
  return Type.Unsafe<Static<T> | null>({
    ...rest,
    type: [...(Array.isArray(type) ? type : [type]), "null"],
    ...(description === undefined ? {} : { description }),
  });
}

/** Response objects never carry a field their schema lacks (the response-schema test checks). */
export function Closed<T extends Record<string, TSchema>>(properties: T, description?: string) {
  return Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });
}

export const ErrorResponse = Closed(
  {
    error: Closed({
      message: Type.String(),
      type: Type.String(),
      param: Nullable(Type.String()),
      code: Nullable(Type.String()),
    }),
  },
  "OpenAI's error object.",
);

/** Error answers every generation endpoint documents. */
export const generationErrors = {
  400: ErrorResponse,
  401: ErrorResponse,
  404: ErrorResponse,
  413: ErrorResponse,
  429: ErrorResponse,
  500: ErrorResponse,
  503: ErrorResponse,
};

export const StreamOptions = Nullable(
  Type.Object(
    {
      include_usage: Type.Optional(
        Nullable(Type.Boolean(), "A last chunk carries the usage (the others `usage: null`). Default false."),
      ),
    },
    { additionalProperties: false },
  ),
  "Streaming options (see Streaming).",
);

/** Sampling fields completions and chat share; their ranges are checked by sequenceSpec. */
export const samplingFields = {
  model: Type.String({
    description: "The served model's id (GET /v1/models); another id is a 404 `model_not_found`.",
  }),
  temperature: Nullable(
    Type.Number(),
    `0 to ${MAX_TEMPERATURE}; 0 is greedy decoding. Default: the model's generation_config.json, else 1.`,
  ),
  top_p: Nullable(
    Type.Number(),
    "Nucleus sampling, (0, 1]: keep the most likely tokens up to this probability mass. Default: the model's generation_config.json, else 1 (off).",
  ),
  n: Nullable(
    Type.Integer(),
    `Choices per prompt, 1 to ${MAX_CHOICES}, and n × prompts at most the server's sequence slots. Default 1.`,
  ),
  stop: Type.Unsafe<string | string[] | null>({
    type: ["string", "array", "null"],
    items: { type: "string" },
    description: `Up to ${MAX_STOP_STRINGS} strings (1 to ${MAX_STOP_STRING_LENGTH} characters) that end a choice; the stop string is not returned.`,
  }),
  seed: Nullable(
    Type.Integer(),
    "Reproducible sampling: choice i of each prompt uses seed + i, so n choices are the texts of n requests with seeds seed, seed + 1, …. Default: random.",
  ),
  presence_penalty: Nullable(
    Type.Number(),
    `-${MAX_PENALTY_MAGNITUDE} to ${MAX_PENALTY_MAGNITUDE}, subtracted once from each generated token's logit. Default 0.`,
  ),
  frequency_penalty: Nullable(
    Type.Number(),
    `-${MAX_PENALTY_MAGNITUDE} to ${MAX_PENALTY_MAGNITUDE}, subtracted per occurrence from each generated token's logit. Default 0.`,
  ),
  logit_bias: Nullable(
    Type.Record(Type.String(), Type.Number()),
    `Token id (decimal string) → bias (-${MAX_LOGIT_BIAS_MAGNITUDE} to ${MAX_LOGIT_BIAS_MAGNITUDE}) added to its logit. Default none.`,
  ),
  stream: Nullable(Type.Boolean(), "Stream the answer as server-sent events (see Streaming). Default false."),
  stream_options: StreamOptions,
  top_k: Nullable(Type.Integer(), "vLLM extra: keep the k most likely tokens; 0 (the default) turns it off."),
  min_p: Nullable(
    Type.Number(),
    "vLLM extra, 0 to 1: keep tokens at least min_p times as likely as the most likely one; 0 (the default) turns it off.",
  ),
  repetition_penalty: Nullable(
    Type.Number(),
    "vLLM extra, > 0: the HF/CTRL repetition penalty over prompt and output tokens; 1 (the default) turns it off.",
  ),
  user: Type.Optional(Type.String({ description: "Accepted and ignored." })),
  metadata: Nullable(Type.Record(Type.String(), Type.String()), "Accepted and ignored."),
  store: Nullable(Type.Boolean(), "Accepted and ignored."),
  service_tier: Nullable(Type.String(), "Accepted and ignored."),
};

/** Nullable fields are optional on the wire. */
export function optional<T extends Record<string, TSchema>>(fields: T) {
  return Object.fromEntries(
    Object.entries(fields).map(([name, schema]) => [name, name === "model" ? schema : Type.Optional(schema)]),
  ) as { [K in keyof T]: K extends "model" ? T[K] : ReturnType<typeof Type.Optional<T[K]>> };
}

export const Usage = Closed({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  prompt_tokens_details: Closed({
    cached_tokens: Type.Integer({
      description:
        "Prompt tokens whose state came from the prefix state cache or, for chat, from the state stored after the conversation's last reply.",
    }),
  }),
});
export type Usage = Static<typeof Usage>;

/**
 * Plain enums and type lists rather than anyOf unions: fast-json-stringify writes those with a
 * type check, where an anyOf costs it a schema validation per value (5.7 µs a stream chunk
 * instead of 1).
 */
export const FinishReason = Type.Unsafe<"stop" | "length">({ type: "string", enum: ["stop", "length"] });
export const FinishReasonOrNull = Type.Unsafe<"stop" | "length" | null>({
  type: ["string", "null"],
  enum: ["stop", "length", null],
});

/** An object of arbitrary keys whose values are numbers (additionalProperties, not a pattern). */
export const NumberMap = Type.Unsafe<Record<string, number>>({
  type: "object",
  additionalProperties: { type: "number" },
});

/** The shared fields as a request carries them. */
const SamplingFieldsObject = Type.Object(optional(samplingFields));
export type SamplingFields = Static<typeof SamplingFieldsObject>;
