import { isBytePiece } from "./byte-fallback.js";

/**
 * What decoding needs of a tokenizer, as plain data that every thread can share: each token's
 * string and two flags in SharedArrayBuffers, built once on the main thread, plus the few JSON
 * objects the decoder pipeline is built from. A generation worker only ever turns ids into text
 * (its stream, its stop strings, its grammar's vocabulary), so it gets this instead of the whole
 * tokenizer: the Llama tokenizer's merges and maps cost each thread ~35 MB, this costs all of
 * them together ~0.5 MB. Structured clone hands workers views on the same memory.
 */

/** What the port builds the decoder pipeline from, as tokenizer.json has it. */
export interface DecodingConfig {
  /** tokenizer.json's "decoder" (null: tokens are joined with spaces). */
  readonly decoder: unknown;
  /** tokenizer.json's "added_tokens": the ByteLevel decoder passes them through as text. */
  readonly addedTokens: readonly unknown[];
  /** The model's end-of-word suffix, which decode turns into a space (BPE models may have one). */
  readonly endOfWordSuffix: string | null;
}

export interface SharedVocabulary {
  /** One more than the largest id: the model vocabulary and the added tokens. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  /** Whether encoding puts a space before the text (see Tokenizer.prependsSpace). */
  readonly prependsSpace: boolean;
  readonly decoding: DecodingConfig;
  /**
   * Every token's string as UTF-16 code units, back to back: token `id` is
   * tokenChars[tokenStarts[id] .. tokenStarts[id + 1]). UTF-16 rather than UTF-8 so that any
   * string, a lone surrogate included, comes back exactly as the tokenizer has it.
   */
  readonly tokenChars: Uint16Array;
  readonly tokenStarts: Uint32Array;
  /** Per id: TOKEN_EXISTS, TOKEN_SPECIAL, TOKEN_BYTE_PIECE. */
  readonly tokenFlags: Uint8Array;
}

/** The id names a token (a vocabulary may have holes: added tokens past its end). */
export const TOKEN_EXISTS = 1;
/** Decode leaves it out when skipping special tokens. */
export const TOKEN_SPECIAL = 2;
/** Its string is a `<0xNN>` byte piece (meaningful only under a ByteFallback decoder). */
export const TOKEN_BYTE_PIECE = 4;

export interface VocabularySource {
  readonly vocabSize: number;
  /** The string of token `id`, or undefined where the vocabulary has a hole. */
  tokenString(id: number): string | undefined;
  readonly specialIds: ReadonlySet<number>;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly prependsSpace: boolean;
  readonly decoding: DecodingConfig;
}

export function shareVocabulary(source: VocabularySource): SharedVocabulary {
  const { vocabSize } = source;
  const strings = Array.from({ length: vocabSize }, (_, id) => source.tokenString(id));
  const tokenStarts = new Uint32Array(new SharedArrayBuffer((vocabSize + 1) * 4));
  for (let id = 0; id < vocabSize; id++) tokenStarts[id + 1] = tokenStarts[id] + (strings[id]?.length ?? 0);
  const tokenChars = new Uint16Array(new SharedArrayBuffer(tokenStarts[vocabSize] * 2));
  const tokenFlags = new Uint8Array(new SharedArrayBuffer(vocabSize));
  for (let id = 0; id < vocabSize; id++) {
    const token = strings[id];
    if (token === undefined) continue;
    for (let k = 0; k < token.length; k++) tokenChars[tokenStarts[id] + k] = token.charCodeAt(k);
    tokenFlags[id] =
      TOKEN_EXISTS |
      (source.specialIds.has(id) ? TOKEN_SPECIAL : 0) |
      (isBytePiece(token) ? TOKEN_BYTE_PIECE : 0);
  }
  return {
    vocabSize,
    bosTokenId: source.bosTokenId,
    eosTokenId: source.eosTokenId,
    prependsSpace: source.prependsSpace,
    decoding: source.decoding,
    tokenChars,
    tokenStarts,
    tokenFlags,
  };
}

/** Token `id`'s string, or undefined for an id that names no token. */
export function vocabularyToken(vocabulary: SharedVocabulary, id: number): string | undefined {
  if (!Number.isInteger(id) || id < 0 || id >= vocabulary.vocabSize) return undefined;
  if ((vocabulary.tokenFlags[id] & TOKEN_EXISTS) === 0) return undefined;
  const { tokenChars, tokenStarts } = vocabulary;
  // In slices: apply's argument count has a limit, and a token may be long (a run of spaces).
  let token = "";
  for (let k = tokenStarts[id]; k < tokenStarts[id + 1]; k += 4096)
    token += String.fromCharCode.apply(
      null,
      tokenChars.subarray(k, Math.min(k + 4096, tokenStarts[id + 1])) as never,
    );
  return token;
}
