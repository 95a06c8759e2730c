import { type SamplingParams, validateSamplingParams } from "../engine/sampling/index.js";
import type { ServerConfig } from "./config.js";
import { contextLengthExceeded, InvalidRequestError, modelNotFound, promptTooLong } from "./errors.js";
import type { GenerationPlan, GenerationService, PromptInput, ServedModel } from "./generation-service.js";
import { MAX_CHOICES, type SamplingFields } from "./protocol.js";

/**
 * From the OpenAI request fields that completions and chat share to a GenerationPlan, refusing
 * with 400 (naming the field) anything the engine would not do as asked.
 */

/** The served model, after checking the request names it (404) and it is loaded (503). */
export function requestedModel(service: GenerationService, name: string | undefined): ServedModel {
  const model = service.model();
  if (name !== undefined && name !== model.name) throw modelNotFound(name);
  return model;
}

/**
 * Refuses, before it is tokenized, text that cannot fit in the prompt limit. Tokenizing runs on
 * the main thread at 1 to 5 µs a character for the shipped tokenizer (a 1 MB prompt, within the
 * default body limit, held every stream up for 1 to 5 s before it was refused), so text is only
 * tokenized when it could be a prompt this server accepts: a token stands for at most
 * `model.maxTokenBytes` bytes of UTF-8, so text longer than maxPromptTokens x maxTokenBytes bytes
 * has more than maxPromptTokens tokens. (This assumes the tokenizer's normalizer deletes no text;
 * the byte-level BPE and SentencePiece tokenizers Trine serves do not.)
 */
export function checkPromptText(text: string, param: string, model: ServedModel, config: ServerConfig): void {
  if (Buffer.byteLength(text) > config.maxPromptTokens * model.maxTokenBytes)
    throw promptTooLong(param, config.maxPromptTokens);
}

/**
 * Refuses a request for more sequences (n x prompts) than `n` allows or the server has slots;
 * checked before its prompts are tokenized, so that many prompts cost nothing to refuse.
 */
export function checkSequences(n: number, prompts: number, config: ServerConfig): void {
  const slots = config.workers * config.maxSequences;
  if (n < 1 || n > MAX_CHOICES)
    throw new InvalidRequestError(`n must be from 1 to ${MAX_CHOICES}.`, "n", "invalid_value");
  const sequences = n * prompts;
  if (sequences > slots) {
    throw new InvalidRequestError(
      `This request needs ${sequences} sequences (n x prompts) but the server runs at most ${slots} at once.`,
      prompts > 1 ? "prompt" : "n",
      "invalid_value",
    );
  }
}

/** Refuses a prompt that is empty or over the configured limit. */
export function checkPrompt(ids: readonly number[], param: string, config: ServerConfig): void {
  if (ids.length === 0) throw new InvalidRequestError("The prompt is empty.", param);
  if (ids.length > config.maxPromptTokens)
    throw contextLengthExceeded(param, ids.length, config.maxPromptTokens);
}

export interface PlanOptions {
  readonly prompts: readonly PromptInput[];
  /** max_tokens, or chat's max_completion_tokens, with the name the request used. */
  readonly maxTokens: { readonly value: number | null | undefined; readonly param: string };
  /** Alternatives per token, or null for no logprobs, with the field that asked. */
  readonly logprobs: { readonly count: number | null; readonly param: string };
  /** Stop strings the server adds (the default chat template's). */
  readonly extraStopStrings?: readonly string[];
}

export function generationPlan(
  body: SamplingFields,
  model: ServedModel,
  config: ServerConfig,
  options: PlanOptions,
): GenerationPlan {
  const n = body.n ?? 1;
  checkSequences(n, options.prompts.length, config);

  const { value: maxTokens = null, param: maxTokensParam } = options.maxTokens;
  if (maxTokens !== null && !(maxTokens >= 1 && maxTokens <= config.maxOutputTokens)) {
    throw new InvalidRequestError(
      `${maxTokensParam} must be from 1 to ${config.maxOutputTokens} (this server's limit).`,
      maxTokensParam,
      "invalid_value",
    );
  }

  const stop = typeof body.stop === "string" ? [body.stop] : (body.stop ?? []);
  const requested: SamplingParams = {
    temperature: body.temperature,
    top_p: body.top_p,
    top_k: body.top_k,
    min_p: body.min_p,
    repetition_penalty: body.repetition_penalty,
    presence_penalty: body.presence_penalty,
    frequency_penalty: body.frequency_penalty,
    logit_bias: body.logit_bias,
    seed: body.seed,
    logprobs: options.logprobs.count,
    stop,
  };
  // null and absent both mean "the default": the model's generation_config, then the engine's.
  const params: SamplingParams = { ...model.defaults };
  for (const [key, value] of Object.entries(requested)) {
    if (value != null) (params as Record<string, unknown>)[key] = value;
  }
  const problem = validateSamplingParams(params, model.vocabSize);
  if (problem) {
    const param = problem.param === "logprobs" ? options.logprobs.param : problem.param;
    throw new InvalidRequestError(
      `Invalid value for '${param}': ${problem.message}.`,
      param,
      "invalid_value",
    );
  }

  return {
    prompts: options.prompts,
    n,
    params,
    maxTokens: maxTokens ?? config.maxOutputTokens,
    stopStrings: [...stop, ...(options.extraStopStrings ?? [])],
    stopTokenIds: model.eosTokenIds,
  };
}
