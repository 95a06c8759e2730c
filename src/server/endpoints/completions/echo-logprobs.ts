import type { TokenLogprobs } from "../../../engine/sampling/index.js";
import type { PromptTokenLogprobs } from "../../../generation/prompt-scoring.js";
import type { Tokenizer } from "../../../tokenizer/index.js";
import { completionLogprobs, tokenText } from "../shared/logprobs.js";
import type { CompletionLogprobs, PromptLogprobs } from "./schema.js";

/**
 * The completions spellings of a scored prompt. With `echo` and `logprobs`, the prompt's tokens
 * come first in `logprobs` (OpenAI's legacy echo): position 0 has no score (null), as OpenAI
 * answers; text_offset counts characters of the echoed text, in which a bos the tokenizer put
 * before a text prompt takes none. `prompt_logprobs` is vLLM's list, one object per position
 * keyed by token id.
 */

/** The prompt's part of an echoed choice's logprobs, `alternatives` per position. */
export function echoedPromptLogprobs(
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  scores: readonly (PromptTokenLogprobs | null)[],
  alternatives: number,
  echoedText: string,
): CompletionLogprobs {
  const result: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = 0;
  for (const [position, id] of promptIds.entries()) {
    const text = tokenText(tokenizer, id);
    const framing = position === 0 && id === tokenizer.bosTokenId && !echoedText.startsWith(text);
    const scored = scores[position] ?? null;
    result.tokens.push(text);
    result.token_logprobs.push(scored === null ? null : scored.logprob);
    result.top_logprobs.push(scored && topObject(tokenizer, scored.topLogprobs.slice(0, alternatives)));
    result.text_offset.push(offset);
    if (!framing) offset += text.length;
  }
  return result;
}

/** The generated part, its offsets following the echoed text; `stop` is the stop token's, if any. */
export function generatedLogprobs(
  tokenizer: Tokenizer,
  logprobs: readonly TokenLogprobs[],
  stop: TokenLogprobs | undefined,
  echoedText: string,
): CompletionLogprobs {
  return completionLogprobs(tokenizer, stop ? [...logprobs, stop] : logprobs, echoedText.length);
}

export function concatLogprobs(first: CompletionLogprobs, second: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: [...first.tokens, ...second.tokens],
    token_logprobs: [...first.token_logprobs, ...second.token_logprobs],
    top_logprobs: [...first.top_logprobs, ...second.top_logprobs],
    text_offset: [...first.text_offset, ...second.text_offset],
  };
}

/** vLLM's prompt_logprobs: per position null or {id: {logprob, rank, decoded_token}}, the prompt token first. */
export function vllmPromptLogprobs(
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  scores: readonly (PromptTokenLogprobs | null)[],
  alternatives: number,
): PromptLogprobs {
  return promptIds.map((id, position) => {
    const scored = scores[position] ?? null;
    if (!scored) return null;
    const entries: PromptLogprobs[number] = {
      [id]: { logprob: scored.logprob, rank: scored.rank, decoded_token: tokenText(tokenizer, id) },
    };
    scored.topLogprobs.slice(0, alternatives).forEach((alternative, k) => {
      entries[alternative.token] ??= {
        logprob: alternative.logprob,
        rank: k + 1,
        decoded_token: tokenText(tokenizer, alternative.token),
      };
    });
    return entries;
  });
}

function topObject(tokenizer: Tokenizer, alternatives: readonly { token: number; logprob: number }[]) {
  const top: Record<string, number> = {};
  // Two tokens may decode alike; the more likely one keeps the key (as for generated tokens).
  for (const alternative of alternatives)
    top[tokenText(tokenizer, alternative.token)] ??= alternative.logprob;
  return top;
}
