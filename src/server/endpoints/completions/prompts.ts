import type { ServedModel } from "../../../scheduler/scheduler.js";
import type { ServerConfig } from "../../config.js";
import { invalidRequest } from "../../errors.js";
import { checkPrompt, checkPromptText, checkSequences } from "../shared/prompt-checks.js";

/**
 * The `prompt` of a completion request in the four shapes OpenAI accepts: a string, an array of
 * strings, an array of token ids, or an array of arrays of token ids. A text prompt is tokenized
 * with the model's framing (its bos); a token-id prompt is taken as it is, with no bos added,
 * since a client that sends ids owns the tokenisation (lm-evaluation-harness adds its own prefix
 * token where it wants one), as vLLM does.
 */

export type PromptField = string | readonly (string | number | readonly number[])[];

export interface CompletionPrompt {
  readonly ids: number[];
  /** The text as the client sent it; undefined for a token-id prompt. */
  readonly text: string | undefined;
  /** The field as errors name it: "prompt", "prompt[1]". */
  readonly param: string;
}

/** A prompt's parts as one list, each a string or a token-id array; mixed arrays are refused. */
function promptParts(prompt: PromptField): (string | readonly number[])[] {
  if (typeof prompt === "string") return [prompt];
  if (prompt.every((part) => typeof part === "number")) return [prompt as readonly number[]];
  if (prompt.every((part) => typeof part === "string" || Array.isArray(part)))
    return prompt as (string | readonly number[])[];
  const first = prompt.findIndex((part) => typeof part === "number");
  throw invalidRequest(
    `prompt[${first}] is a token id beside strings or token arrays: send a string, an array of strings, an array of token ids or an array of arrays of token ids.`,
    `prompt[${first}]`,
    "invalid_type",
  );
}

/** How many prompts the field holds, before any is checked or tokenized. */
export function promptCount(prompt: PromptField): number {
  return typeof prompt === "string" || typeof prompt[0] === "number" ? 1 : prompt.length;
}

/** Refuses an id the model has no row for, or the tokenizer no piece for, naming the element. */
function checkTokenIds(ids: readonly number[], param: string, model: ServedModel): void {
  const { tokenizer, vocabSize } = model;
  for (const [k, id] of ids.entries()) {
    if (Number.isInteger(id) && id >= 0 && id < vocabSize && tokenizer.idToToken(id) !== undefined) continue;
    throw invalidRequest(
      `${param}[${k}] = ${id} is not a token id of this model (0 to ${vocabSize - 1}).`,
      `${param}[${k}]`,
      "invalid_value",
    );
  }
}

/**
 * Every prompt of the request as token ids, checked: the number of sequences first (before any
 * tokenizing), then each prompt's size, ids and length.
 */
export async function completionPrompts(
  prompt: PromptField,
  n: number,
  model: ServedModel,
  config: ServerConfig,
): Promise<CompletionPrompt[]> {
  const parts = promptParts(prompt);
  checkSequences(n, parts.length, config);
  const prompts: CompletionPrompt[] = [];
  for (const [i, part] of parts.entries()) {
    const flatIds = typeof prompt !== "string" && typeof prompt[0] === "number";
    const param = flatIds || (parts.length === 1 && typeof part === "string") ? "prompt" : `prompt[${i}]`;
    if (typeof part === "string") {
      checkPromptText(part, param, model, config);
      const ids = await model.promptTokenizer.encode(part);
      checkPrompt(ids, param, config);
      prompts.push({ ids, text: part, param });
    } else {
      if (part.length === 0)
        throw invalidRequest("A token-id prompt needs at least one token.", param, "invalid_value");
      checkTokenIds(part, param, model);
      checkPrompt(part, param, config);
      prompts.push({ ids: [...part], text: undefined, param });
    }
  }
  return prompts;
}
