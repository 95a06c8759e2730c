import { isBytePiece, withReferenceByteFallback } from "./byte-fallback.js";
import { TokenIdOutOfRangeError, TokenizerError } from "./errors.js";
import { HfTokenizer } from "./hf-tokenizers.js";
import { resolveSpecialTokens } from "./special-tokens.js";

export interface EncodeOptions {
  /** Frame the text with the tokens the post-processor adds (bos for our models). Default true. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave special tokens (bos, eos, ...) out of the text. Default true, as in Python `tokenizers`. */
  readonly skipSpecialTokens?: boolean;
}

/**
 * Text to ids and back, with the results of the reference Python `tokenizers` library for the
 * same tokenizer.json (test/tokenizer/parity.test.ts holds it to that).
 */
export interface Tokenizer {
  /** One more than the largest id: the model vocabulary and the added tokens. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  encode(text: string, options?: EncodeOptions): number[];
  /** Throws TokenIdOutOfRangeError for an id that names no token. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  idToToken(id: number): string | undefined;
  isSpecial(id: number): boolean;
  /**
   * Whether `id` is a `<0xNN>` piece that decode joins with neighbouring byte pieces into UTF-8.
   * Text that ends in one is not final: a later invalid byte turns the whole run into U+FFFDs.
   */
  isByteFallbackPiece(id: number): boolean;
  /**
   * How the vocabulary's token strings spell text, as grammar engines (xgrammar) need to read
   * them: GPT-2's byte-to-character map, Llama's "▁" for space with `<0xNN>` byte pieces, or the
   * text itself.
   */
  readonly vocabularyType: VocabularyType;
  /** Whether encoding puts a space before the text (Llama's normalizer prepends "▁"). */
  readonly prependsSpace: boolean;
}

export type VocabularyType = "byte_level" | "byte_fallback" | "raw";

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
  const { decoder, usesByteFallback } = withReferenceByteFallback(hfTokenizer.decoder);
  hfTokenizer.decoder = decoder;

  const vocabSize = hfTokenizer.model?.vocab.length ?? 0;
  if (vocabSize === 0) throw new TokenizerError("tokenizer.json has an empty vocabulary");
  const { bosTokenId, eosTokenId, specialIds, framingOverride } = resolveSpecialTokens(hfTokenizer, config);

  const idToToken = (id: number): string | undefined =>
    Number.isInteger(id) && id >= 0 && id < vocabSize ? hfTokenizer.id_to_token(id) : undefined;

  return {
    vocabSize,
    bosTokenId,
    eosTokenId,

    encode(text, { addSpecialTokens = true } = {}) {
      const wellFormed = text.replace(LONE_SURROGATE, "\uFFFD");
      if (addSpecialTokens && framingOverride) {
        const ids = hfTokenizer.encode(wellFormed, { add_special_tokens: false }).ids;
        return [...framingOverride.prefix, ...ids, ...framingOverride.suffix];
      }
      return hfTokenizer.encode(wellFormed, { add_special_tokens: addSpecialTokens }).ids;
    },

    decode(ids, { skipSpecialTokens = true } = {}) {
      for (const id of ids) {
        if (idToToken(id) === undefined) throw new TokenIdOutOfRangeError(id, vocabSize);
      }
      const kept = skipSpecialTokens ? ids.filter((id) => !specialIds.has(id)) : [...ids];
      // The port rejects an empty list; the reference decodes it to "".
      if (kept.length === 0) return "";
      return hfTokenizer.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    },

    idToToken,

    isSpecial: (id) => specialIds.has(id),

    isByteFallbackPiece(id) {
      const token = usesByteFallback ? idToToken(id) : undefined;
      return token !== undefined && isBytePiece(token);
    },

    vocabularyType: usesByteFallback
      ? "byte_fallback"
      : hasStep(json.decoder, "ByteLevel")
        ? "byte_level"
        : "raw",
    prependsSpace:
      hasStep(json.normalizer, "Prepend", (step) => step.prepend === "\u2581") ||
      hasStep(
        json.pre_tokenizer,
        "Metaspace",
        (step) => (step.prepend_scheme ?? (step.add_prefix_space === false ? "never" : "always")) !== "never",
      ),
  };
}

/** Whether a pipeline stage (or one inside a Sequence) has `type`, and passes `test`. */
function hasStep(
  stage: unknown,
  type: string,
  test: (step: Record<string, unknown>) => boolean = () => true,
): boolean {
  if (typeof stage !== "object" || stage === null) return false;
  const step = stage as Record<string, unknown>;
  if (step.type === type && test(step)) return true;
  const inner = step.decoders ?? step.normalizers ?? step.pretokenizers;
  return Array.isArray(inner) && inner.some((item) => hasStep(item, type, test));
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
