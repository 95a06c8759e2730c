import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR } from "../../src/model/default-model.js";
import { withReferenceByteFallback } from "../../src/tokenizer/byte-fallback.js";
import { HfTokenizer } from "../../src/tokenizer/hf-tokenizers.js";
import { createDetokenizer, createTokenizer, TokenIdOutOfRangeError } from "../../src/tokenizer/index.js";
import { tokenizerJson } from "./fixture-tokenizers.js";

/**
 * The generation workers decode with a Detokenizer built from the main thread's SharedVocabulary
 * instead of a tokenizer of their own. It must give exactly the text the port gives with the
 * whole tokenizer (ByteFallback made the reference's), for any ids: stop strings and streamed
 * text depend on it.
 */

const storytellerJson = (file: string) => JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, file), "utf8"));
const CASES = [
  { name: "llama-32000", json: tokenizerJson("llama-32000"), config: undefined },
  { name: "bytelevel-1k", json: tokenizerJson("bytelevel-1k"), config: undefined },
  {
    name: "storyteller",
    json: storytellerJson("tokenizer.json"),
    config: storytellerJson("tokenizer_config.json"),
  },
];

describe.each(CASES)("detokenizer from the shared vocabulary: $name", ({ json, config }) => {
  const tokenizer = createTokenizer(json, config);
  // What a worker receives: a structured clone, whose typed arrays share the main thread's memory.
  const detokenizer = createDetokenizer(structuredClone(tokenizer.vocabulary));
  // The decode path before the vocabulary was shared: the whole port tokenizer.
  const port = new HfTokenizer(
    { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json },
    {},
  );
  port.decoder = withReferenceByteFallback(port.decoder).decoder;
  const portDecode = (ids: number[], skipSpecialTokens: boolean) => {
    const kept = skipSpecialTokens ? ids.filter((id) => !tokenizer.isSpecial(id)) : ids;
    return kept.length === 0
      ? ""
      : port.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  };
  const { vocabSize } = tokenizer;

  it("shares the vocabulary's memory rather than copying it", () => {
    for (const array of [tokenizer.vocabulary.tokenChars, tokenizer.vocabulary.tokenFlags])
      expect(array.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("has every token, flag and property of the tokenizer", () => {
    for (let id = -1; id <= vocabSize; id++) {
      expect(detokenizer.idToToken(id)).toBe(id < 0 || id >= vocabSize ? undefined : port.id_to_token(id));
      expect(detokenizer.isSpecial(id)).toBe(tokenizer.isSpecial(id));
      expect(detokenizer.isByteFallbackPiece(id)).toBe(tokenizer.isByteFallbackPiece(id));
    }
    const { vocabularyType, prependsSpace, bosTokenId, eosTokenId } = tokenizer;
    expect(detokenizer).toMatchObject({ vocabSize, vocabularyType, prependsSpace, bosTokenId, eosTokenId });
  });

  it("decodes any ids as the port's whole tokenizer does, skipping or keeping special tokens", () => {
    // Byte pieces, special tokens and the first ids (Llama's <0xNN> are 3..258) come up often.
    const specials = Array.from({ length: vocabSize }, (_, id) => id).filter((id) => tokenizer.isSpecial(id));
    const id = fc.oneof(
      fc.integer({ min: 0, max: vocabSize - 1 }),
      fc.integer({ min: 0, max: Math.min(300, vocabSize - 1) }),
      fc.constantFrom(...specials),
    );
    fc.assert(
      fc.property(fc.array(id, { maxLength: 12 }), fc.boolean(), (ids, skipSpecialTokens) => {
        const expected = portDecode(ids, skipSpecialTokens);
        expect(detokenizer.decode(ids, { skipSpecialTokens })).toBe(expected);
        expect(tokenizer.decode(ids, { skipSpecialTokens })).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("throws TokenIdOutOfRangeError for ids that name no token", () => {
    for (const bad of [-1, vocabSize, 1.5, Number.NaN])
      expect(() => detokenizer.decode([0, bad])).toThrow(TokenIdOutOfRangeError);
  });
});
