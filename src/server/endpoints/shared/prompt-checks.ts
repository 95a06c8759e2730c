import type { Scheduler, ServedModel } from "../../../scheduler/scheduler.js";
import type { ServerConfig } from "../../config.js";
import { contextLengthExceeded, invalidRequest, modelNotFound, promptTooLong } from "../../errors.js";
import { MAX_CHOICES } from "./schema.js";

/** The checks completions, chat and tokenize make of a request's model and prompts. */

/** The served model, after checking the request names it (404) and it is loaded (503). */
export function requestedModel(scheduler: Scheduler, name: string | undefined): ServedModel {
  const model = scheduler.model();
  if (name !== undefined && name !== model.name) throw modelNotFound(name);
  return model;
}

/**
 * Refuses, before it is tokenized, text that cannot fit in the prompt limit. Tokenizing takes
 * 1 to 5 µs a character (a 1 MB prompt, within the default body limit, held every stream up for
 * 1 to 5 s before it was refused), so text is only tokenized when it could be a prompt this
 * server accepts: a token stands for at most `model.maxTokenBytes` bytes of UTF-8, so text longer
 * than maxPromptTokens x maxTokenBytes bytes has more than maxPromptTokens tokens. (This assumes
 * the tokenizer's normalizer deletes no text; the byte-level BPE and SentencePiece tokenizers
 * Trine serves do not.)
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
    throw invalidRequest(`n must be from 1 to ${MAX_CHOICES}.`, "n", "invalid_value");
  const sequences = n * prompts;
  if (sequences > slots) {
    throw invalidRequest(
      `This request needs ${sequences} sequences (n x prompts) but the server runs at most ${slots} at once.`,
      prompts > 1 ? "prompt" : "n",
      "invalid_value",
    );
  }
}

/** Refuses a prompt that is empty or over the configured limit. */
export function checkPrompt(ids: readonly number[], param: string, config: ServerConfig): void {
  if (ids.length === 0) throw invalidRequest("The prompt is empty.", param);
  if (ids.length > config.maxPromptTokens)
    throw contextLengthExceeded(param, ids.length, config.maxPromptTokens);
}
