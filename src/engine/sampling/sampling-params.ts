/**
 * How a sequence's tokens are drawn, named and defaulted as in OpenAI's API (plus vLLM's top_k,
 * min_p and repetition_penalty). `null` and absent both mean "the default", because every one of
 * these fields is nullable on the wire.
 *
 * The engine trusts these values: the sequence spec's builder calls `validateSamplingParams` and
 * turns a problem into an error that names the parameter (a 400 from the server, a usage error
 * from the CLI).
 */
export interface SamplingParams {
  /** Divides the logits before softmax. 0 = greedy (arg-max, ties to the lowest id). Default 1. */
  temperature?: number | null;
  /** Keep only the k most likely tokens. 0 = off. Default 0. */
  top_k?: number | null;
  /** Keep the smallest set of most likely tokens whose probability sums to ≥ top_p. 1 = off. Default 1. */
  top_p?: number | null;
  /** Keep tokens whose probability is ≥ min_p × the top token's probability. 0 = off. Default 0. */
  min_p?: number | null;
  /** HF/CTRL rule over prompt + output tokens: logit > 0 ? logit / p : logit × p. 1 = off. Default 1. */
  repetition_penalty?: number | null;
  /** Subtracted once from the logit of every token already generated. Default 0. */
  presence_penalty?: number | null;
  /** Subtracted per occurrence from the logit of every token already generated. Default 0. */
  frequency_penalty?: number | null;
  /** Token id (decimal string, as JSON object keys are) → bias added to its logit. Default none. */
  logit_bias?: Readonly<Record<string, number>> | null;
  /** Makes sampling reproducible. Default: a random seed per sequence. */
  seed?: number | null;
}

export const DEFAULT_TEMPERATURE = 1;
export const DEFAULT_TOP_K = 0;
export const DEFAULT_TOP_P = 1;
export const DEFAULT_MIN_P = 0;
export const DEFAULT_REPETITION_PENALTY = 1;
export const DEFAULT_PRESENCE_PENALTY = 0;
export const DEFAULT_FREQUENCY_PENALTY = 0;

/** OpenAI's ranges. */
export const MAX_TEMPERATURE = 2;
export const MAX_PENALTY_MAGNITUDE = 2;
export const MAX_LOGIT_BIAS_MAGNITUDE = 100;
export const MAX_TOP_LOGPROBS = 20;
/** OpenAI allows 4 stop strings; we allow more, bounded so matching stays cheap per token. */
export const MAX_STOP_STRINGS = 16;
export const MAX_STOP_STRING_LENGTH = 256;

export interface SamplingParamsProblem {
  /** The offending field, spelled as in the request. */
  param: string;
  message: string;
}

/** What is wrong with a field's value (never null: absent fields are not checked), or null. */
type FieldCheck = (value: unknown, vocabSize: number) => string | null;

const penaltyRange = `must be a number between -${MAX_PENALTY_MAGNITUDE} and ${MAX_PENALTY_MAGNITUDE}`;

/**
 * Every sampling field and its rule, in the order problems are reported: the one table a new
 * sampling field is added to (with its processor in sampler.ts and its wire schema).
 */
export const SAMPLING_FIELD_CHECKS: { readonly [K in keyof Required<SamplingParams>]: FieldCheck } = {
  temperature: (v) =>
    isFiniteNumber(v) && v >= 0 && v <= MAX_TEMPERATURE
      ? null
      : `must be a number between 0 and ${MAX_TEMPERATURE}`,
  top_k: (v) =>
    Number.isSafeInteger(v) && (v as number) >= 0 ? null : "must be an integer ≥ 0 (0 turns it off)",
  top_p: (v) =>
    isFiniteNumber(v) && v > 0 && v <= 1 ? null : "must be a number greater than 0 and at most 1",
  min_p: (v) => (isFiniteNumber(v) && v >= 0 && v <= 1 ? null : "must be a number between 0 and 1"),
  repetition_penalty: (v) =>
    isFiniteNumber(v) && v > 0 ? null : "must be a number greater than 0 (1 turns it off)",
  presence_penalty: (v) => (isPenalty(v) ? null : penaltyRange),
  frequency_penalty: (v) => (isPenalty(v) ? null : penaltyRange),
  logit_bias: checkLogitBias,
  seed: (v) => (Number.isSafeInteger(v) ? null : "must be an integer"),
};

/** The sampling fields' names, in the table's order. */
export const SAMPLING_FIELDS = Object.keys(SAMPLING_FIELD_CHECKS) as (keyof SamplingParams)[];

/** The first problem with `params` for a model of `vocabSize` tokens, or null when they are usable. */
export function validateSamplingParams(
  params: SamplingParams,
  vocabSize: number,
): SamplingParamsProblem | null {
  for (const field of SAMPLING_FIELDS) {
    const value = params[field];
    if (value == null) continue;
    const message = SAMPLING_FIELD_CHECKS[field](value, vocabSize);
    if (message !== null) return problem(field, message);
  }
  return null;
}

function checkLogitBias(value: unknown, vocabSize: number): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return "must be an object of token id → bias";
  for (const [key, bias] of Object.entries(value)) {
    if (!isTokenIdKey(key, vocabSize)) return `key "${key}" is not a token id between 0 and ${vocabSize - 1}`;
    if (!(isFiniteNumber(bias) && Math.abs(bias) <= MAX_LOGIT_BIAS_MAGNITUDE))
      return `bias for token ${key} must be a number between -${MAX_LOGIT_BIAS_MAGNITUDE} and ${MAX_LOGIT_BIAS_MAGNITUDE}`;
  }
  return null;
}

export function problem(param: string, message: string): SamplingParamsProblem {
  return { param, message };
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isPenalty(value: unknown): boolean {
  return isFiniteNumber(value) && Math.abs(value) <= MAX_PENALTY_MAGNITUDE;
}

/** Canonical decimal only ("7", not "07", "7.0" or " 7"), so each key names exactly one token. */
function isTokenIdKey(key: string, vocabSize: number): boolean {
  return /^(0|[1-9]\d*)$/.test(key) && Number(key) < vocabSize;
}
