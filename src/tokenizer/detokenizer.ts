import { withReferenceByteFallback } from "./byte-fallback.js";
import { TokenIdOutOfRangeError } from "./errors.js";
import { type HfDecoder, HfTokenizer } from "./hf-tokenizers.js";
import { hasStep } from "./pipeline-steps.js";
import {
  type DecodingConfig,
  type SharedVocabulary,
  TOKEN_BYTE_PIECE,
  TOKEN_SPECIAL,
  vocabularyToken,
} from "./shared-vocabulary.js";

export interface DecodeOptions {
  /** Leave special tokens (bos, eos, ...) out of the text. Default true, as in Python `tokenizers`. */
  readonly skipSpecialTokens?: boolean;
}

export type VocabularyType = "byte_level" | "byte_fallback" | "raw";

/**
 * Ids to text: the half of a tokenizer that generation needs (a stream's text, its stop strings,
 * a grammar's view of the vocabulary). Built from a SharedVocabulary, so the generation workers
 * share one copy of the vocabulary instead of each loading the tokenizer.
 */
export interface Detokenizer {
  /** One more than the largest id: the model vocabulary and the added tokens. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
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

/**
 * Decodes as the port's Tokenizer.decode does, with the same decoder objects built from the same
 * configuration (and ByteFallback made the reference's), so the text is the tokenizer's own:
 * test/tokenizer/parity.test.ts holds it to Python `tokenizers`.
 */
export function createDetokenizer(vocabulary: SharedVocabulary): Detokenizer {
  const { vocabSize, tokenFlags } = vocabulary;
  const { decoder, usesByteFallback } = buildDecoder(vocabulary.decoding);
  const idToToken = (id: number) => vocabularyToken(vocabulary, id);
  const isSpecial = (id: number) => (tokenFlags[id] & TOKEN_SPECIAL) !== 0;
  return {
    vocabSize,
    bosTokenId: vocabulary.bosTokenId,
    eosTokenId: vocabulary.eosTokenId,

    decode(ids, { skipSpecialTokens = true } = {}) {
      const tokens: string[] = [];
      for (const id of ids) {
        const token = idToToken(id);
        if (token === undefined) throw new TokenIdOutOfRangeError(id, vocabSize);
        if (!(skipSpecialTokens && isSpecial(id))) tokens.push(token);
      }
      // The port rejects an empty list; the reference decodes it to "".
      if (tokens.length === 0) return "";
      if (decoder === null) return tokens.join(" ");
      const text = decoder.decode(tokens);
      return decoder.end_of_word_suffix ? text.replaceAll(decoder.end_of_word_suffix, " ") : text;
    },

    idToToken,
    isSpecial: (id) => Number.isInteger(id) && id >= 0 && id < vocabSize && isSpecial(id),
    isByteFallbackPiece: (id) =>
      usesByteFallback &&
      Number.isInteger(id) &&
      id >= 0 &&
      id < vocabSize &&
      (tokenFlags[id] & TOKEN_BYTE_PIECE) !== 0,
    vocabularyType: usesByteFallback
      ? "byte_fallback"
      : hasStep(vocabulary.decoding.decoder, "ByteLevel")
        ? "byte_level"
        : "raw",
    prependsSpace: vocabulary.prependsSpace,
  };
}

/**
 * The decoder pipeline of tokenizer.json, with the added tokens and end-of-word suffix the port
 * gives it. The port builds decoders only inside a Tokenizer, so one is built around an empty
 * model: its decoder is the full tokenizer's, without the merges and maps (tens of MB).
 */
function buildDecoder(decoding: DecodingConfig): { decoder: HfDecoder | null; usesByteFallback: boolean } {
  const carrier = new HfTokenizer(
    {
      model: { type: "BPE", vocab: {}, merges: [] },
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: decoding.decoder,
      added_tokens: decoding.addedTokens,
    },
    {},
  );
  const built = withReferenceByteFallback(carrier.decoder);
  if (built.decoder) built.decoder.end_of_word_suffix = decoding.endOfWordSuffix;
  return built;
}
