import type { TokenLogprobs } from "../../../engine/sampling/index.js";
import type { Tokenizer } from "../../../tokenizer/index.js";
import type { ChatLogprobs } from "../chat-completions/schema.js";
import type { CompletionLogprobs } from "../completions/schema.js";

/** Token log-probabilities in both OpenAI spellings. */

/**
 * A token as the logprobs fields show it: its own decoded text; "" for an id of the model's
 * vocabulary that the tokenizer has no piece for (a padded vocabulary), which can be an alternative.
 */
export function tokenText(tokenizer: Tokenizer, id: number): string {
  return tokenizer.idToToken(id) === undefined ? "" : tokenizer.decode([id], { skipSpecialTokens: false });
}

/** The completions spelling; offsets count characters from `textOffset` (the echoed prompt). */
export function completionLogprobs(
  tokenizer: Tokenizer,
  logprobs: readonly TokenLogprobs[],
  textOffset: number,
): CompletionLogprobs {
  const result: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = textOffset;
  for (const entry of logprobs) {
    const text = tokenText(tokenizer, entry.token);
    result.tokens.push(text);
    result.token_logprobs.push(entry.logprob);
    const top: Record<string, number> = {};
    // Two tokens may decode alike; the more likely one keeps the key.
    for (const alternative of entry.topLogprobs)
      top[tokenText(tokenizer, alternative.token)] ??= alternative.logprob;
    result.top_logprobs.push(top);
    result.text_offset.push(offset);
    offset += text.length;
  }
  return result;
}

/** The chat spelling. */
export function chatLogprobs(tokenizer: Tokenizer, logprobs: readonly TokenLogprobs[]): ChatLogprobs {
  const encoder = new TextEncoder();
  const entry = (token: number, logprob: number) => {
    const text = tokenText(tokenizer, token);
    return { token: text, logprob, bytes: [...encoder.encode(text)] };
  };
  return {
    content: logprobs.map((item) => ({
      ...entry(item.token, item.logprob),
      top_logprobs: item.topLogprobs.map((alternative) => entry(alternative.token, alternative.logprob)),
    })),
    refusal: null,
  };
}
