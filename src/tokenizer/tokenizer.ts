import { createDetokenizer, type Detokenizer } from "./detokenizer.js";
import { TokenizerError } from "./errors.js";
import { HfTokenizer } from "./hf-tokenizers.js";
import { hasStep } from "./pipeline-steps.js";
import { type SharedVocabulary, shareVocabulary } from "./shared-vocabulary.js";
import { resolveSpecialTokens } from "./special-tokens.js";

export interface EncodeOptions {
  /** Frame the text with the tokens the post-processor adds (bos for our models). Default true. */
  readonly addSpecialTokens?: boolean;
}

/**
 * Text to ids and back, with the results of the reference Python `tokenizers` library for the
 * same tokenizer.json (test/tokenizer/parity.test.ts holds it to that).
 */
export interface Tokenizer extends Detokenizer {
  encode(text: string, options?: EncodeOptions): number[];
  /** What decoding needs, shareable with worker threads: createDetokenizer(vocabulary) decodes as this does. */
  readonly vocabulary: SharedVocabulary;
}

/** Rust strings cannot hold unpaired surrogates; the reference would never see them. */
const LONE_SURROGATE = /\p{Cs}/gu;

/**
 * Builds a tokenizer from the parsed tokenizer.json (or its text) and, optionally, the parsed
 * tokenizer_config.json, whose bos_token, eos_token, add_bos_token and add_eos_token win over
 * what tokenizer.json implies. Throws TokenizerError if either cannot be used.
 */
export function createTokenizer(tokenizerJson: unknown, tokenizerConfig?: unknown): Tokenizer {
  const json = jsonObject(tokenizerJson, "tokenizer.json");
  if (typeof json.model !== "object" || json.model === null || Array.isArray(json.model)) {
    throw new TokenizerError('tokenizer.json has no "model" object, so it does not describe a tokenizer');
  }
  const config =
    tokenizerConfig === undefined || tokenizerConfig === null
      ? {}
      : jsonObject(tokenizerConfig, "tokenizer_config.json");

  let hfTokenizer: HfTokenizer;
  try {
    // The port insists on every pipeline key and on added_tokens, which hand-written or older
    // files may leave out when empty. Its config switches (remove_space, lowercasing, clean-up)
    // emulate transformers' slow tokenizers, so it gets none of ours: parity is with `tokenizers`.
    hfTokenizer = new HfTokenizer(
      {
        normalizer: null,
        pre_tokenizer: null,
        post_processor: null,
        decoder: null,
        added_tokens: [],
        ...json,
      },
      {},
    );
  } catch (error) {
    throw new TokenizerError(`tokenizer.json cannot be used: ${(error as Error).message}`, { cause: error });
  }
  const vocabSize = hfTokenizer.model?.vocab.length ?? 0;
  if (vocabSize === 0) throw new TokenizerError("tokenizer.json has an empty vocabulary");
  const { bosTokenId, eosTokenId, specialIds, framingOverride } = resolveSpecialTokens(hfTokenizer, config);
  const vocabulary = shareVocabulary({
    vocabSize,
    tokenString: (id) => hfTokenizer.id_to_token(id),
    specialIds,
    bosTokenId,
    eosTokenId,
    prependsSpace:
      hasStep(json.normalizer, "Prepend", (step) => step.prepend === "\u2581") ||
      hasStep(
        json.pre_tokenizer,
        "Metaspace",
        (step) => (step.prepend_scheme ?? (step.add_prefix_space === false ? "never" : "always")) !== "never",
      ),
    decoding: {
      decoder: json.decoder ?? null,
      addedTokens: Array.isArray(json.added_tokens) ? json.added_tokens : [],
      endOfWordSuffix: hfTokenizer.decoder?.end_of_word_suffix ?? null,
    },
  });
  forgetConstructionInput(hfTokenizer);

  return {
    ...createDetokenizer(vocabulary),
    vocabulary,

    encode(text, { addSpecialTokens = true } = {}) {
      const wellFormed = text.replace(LONE_SURROGATE, "\uFFFD");
      if (addSpecialTokens && framingOverride) {
        const ids = hfTokenizer.encode(wellFormed, { add_special_tokens: false }).ids;
        return [...framingOverride.prefix, ...ids, ...framingOverride.suffix];
      }
      return hfTokenizer.encode(wellFormed, { add_special_tokens: addSpecialTokens }).ids;
    },
  };
}

/**
 * The port keeps the parsed tokenizer.json and its model's config (the vocabulary object and the
 * merge list) after it has built its own tables from them, and reads neither again: for the Llama
 * tokenizer that is 10 of its 20 MB of heap, held as long as the tokenizer lives.
 */
function forgetConstructionInput(hfTokenizer: HfTokenizer): void {
  const port = hfTokenizer as unknown as {
    tokenizer?: unknown;
    model: { config?: Record<string, unknown>; merges?: unknown };
  };
  port.tokenizer = undefined;
  if (port.model.config) port.model.config = { ...port.model.config, vocab: undefined, merges: undefined };
  port.model.merges = undefined;
}

/** `value` as a JSON object, parsing it first if it is JSON text. */
function jsonObject(value: unknown, file: string): Record<string, unknown> {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new TokenizerError(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new TokenizerError(`${file} must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
