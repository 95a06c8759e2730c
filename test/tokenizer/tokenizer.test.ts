import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTokenizer, TokenIdOutOfRangeError, TokenizerError } from "../../src/tokenizer/index.js";
import { fixtureTokenizer, LLAMA_FIRST_BYTE_PIECE, tokenizerJson } from "./fixture-tokenizers.js";

const llama = fixtureTokenizer("llama-32000");
const byteLevel = fixtureTokenizer("bytelevel-1k");

describe("special tokens and vocabulary", () => {
  it("finds bos and eos of the Llama tokenizer without a tokenizer_config.json", () => {
    expect(llama.vocabSize).toBe(32000);
    expect(llama.bosTokenId).toBe(1);
    expect(llama.eosTokenId).toBe(2);
    expect([0, 1, 2].map((id) => llama.isSpecial(id))).toEqual([true, true, true]);
    expect(llama.isSpecial(15043)).toBe(false);
    expect(llama.idToToken(15043)).toBe("▁Hello");
    expect(llama.encode("Hello world")).toEqual([1, 15043, 3186]);
  });

  it("finds bos and eos of the byte-level tokenizer", () => {
    expect(byteLevel.vocabSize).toBe(1000);
    expect(byteLevel.idToToken(byteLevel.bosTokenId!)).toBe("<|bos|>");
    expect(byteLevel.idToToken(byteLevel.eosTokenId!)).toBe("<|eos|>");
    expect(byteLevel.encode("Alice")[0]).toBe(byteLevel.bosTokenId);
  });

  it("has no token for ids outside the vocabulary", () => {
    for (const id of [-1, 32000, 1.5, Number.NaN]) expect(llama.idToToken(id)).toBeUndefined();
  });

  it("marks only <0xNN> pieces of a byte-fallback vocabulary as byte pieces", () => {
    expect(llama.idToToken(LLAMA_FIRST_BYTE_PIECE)).toBe("<0x00>");
    expect(llama.idToToken(LLAMA_FIRST_BYTE_PIECE + 255)).toBe("<0xFF>");
    expect(llama.isByteFallbackPiece(LLAMA_FIRST_BYTE_PIECE)).toBe(true);
    expect(llama.isByteFallbackPiece(15043)).toBe(false);
    const byteLevelIds = Array.from({ length: byteLevel.vocabSize }, (_, id) => id);
    expect(byteLevelIds.some((id) => byteLevel.isByteFallbackPiece(id))).toBe(false);
  });
});

describe("tokenizer_config.json", () => {
  it("names bos and eos, as strings or {content} objects", () => {
    const tokenizer = createTokenizer(tokenizerJson("llama-32000"), {
      bos_token: { content: "</s>", lstrip: false },
      eos_token: "<unk>",
    });
    expect(tokenizer.bosTokenId).toBe(2);
    expect(tokenizer.eosTokenId).toBe(0);
  });

  it("can say there is no bos token", () => {
    expect(createTokenizer(tokenizerJson("llama-32000"), { bos_token: null }).bosTokenId).toBeUndefined();
  });

  it("add_bos_token and add_eos_token decide which special tokens encode adds", () => {
    const json = tokenizerJson("llama-32000");
    expect(createTokenizer(json, { add_bos_token: false }).encode("Hello world")).toEqual([15043, 3186]);
    expect(createTokenizer(json, { add_eos_token: true }).encode("Hello world")).toEqual([1, 15043, 3186, 2]);
    expect(
      createTokenizer(json, { add_bos_token: false }).encode("Hello", { addSpecialTokens: false }),
    ).toEqual([15043]);
  });

  it("is accepted as JSON text too", () => {
    const tokenizer = createTokenizer(
      JSON.stringify(tokenizerJson("bytelevel-1k")),
      '{"add_bos_token": false}',
    );
    expect(tokenizer.encode("Alice")).toEqual(byteLevel.encode("Alice", { addSpecialTokens: false }));
  });

  it("naming a token tokenizer.json lacks is a TokenizerError", () => {
    expect(() => createTokenizer(tokenizerJson("llama-32000"), { eos_token: "<|im_end|>" })).toThrow(
      /eos_token "<\|im_end\|>", which tokenizer.json does not have/,
    );
    expect(() => createTokenizer(tokenizerJson("llama-32000"), { add_bos_token: "yes" })).toThrow(
      TokenizerError,
    );
    expect(() => createTokenizer(tokenizerJson("llama-32000"), [1, 2])).toThrow(
      /tokenizer_config.json must be a JSON object/,
    );
  });
});

describe("unusable tokenizer.json", () => {
  it("that is not JSON", () => {
    expect(() => createTokenizer('{"model": {"type": "BPE",')).toThrow(TokenizerError);
    expect(() => createTokenizer('{"model": {"type": "BPE",')).toThrow(/tokenizer.json is not valid JSON/);
  });

  it("that is not an object", () => {
    for (const json of [null, undefined, 42, [], "[]"]) {
      expect(() => createTokenizer(json)).toThrow(/tokenizer.json must be a JSON object/);
    }
  });

  it("without a model", () => {
    expect(() => createTokenizer({ version: "1.0", added_tokens: [] })).toThrow(/no "model" object/);
    expect(() => createTokenizer({ model: "BPE" })).toThrow(/no "model" object/);
  });

  it("whose model or pipeline the library cannot build", () => {
    expect(() => createTokenizer({ model: { type: "Mystery" } })).toThrow(/tokenizer.json cannot be used/);
    expect(() => createTokenizer({ model: { type: "BPE", vocab: {}, merges: [] } })).toThrow(
      /empty vocabulary/,
    );
    const json = { ...(tokenizerJson("bytelevel-1k") as object), decoder: { type: "Mystery" } };
    expect(() => createTokenizer(json)).toThrow(/cannot be used: Unknown Decoder type: Mystery/);
  });

  it("that leaves out empty pipeline stages", () => {
    const tokenizer = createTokenizer({
      model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: [["a", "b"]] },
    });
    expect(tokenizer.encode("abab")).toEqual([2, 2]);
    expect(tokenizer.decode([2, 0])).toBe("ab a");
  });
});

describe("decode", () => {
  it("throws TokenIdOutOfRangeError, a RangeError, for ids that name no token", () => {
    for (const id of [32000, -1, 2 ** 40, 0.5, Number.NaN]) {
      expect(() => llama.decode([15043, id])).toThrow(TokenIdOutOfRangeError);
      expect(() => llama.decode([15043, id])).toThrow(RangeError);
    }
    expect(() => llama.decode([32000])).toThrow(
      "token id 32000 is not in the vocabulary (valid ids are integers 0..31999)",
    );
    expect(() => byteLevel.decode([1000])).toThrow(TokenIdOutOfRangeError);
  });

  it("decodes no ids, or only skipped special tokens, to the empty string", () => {
    expect(llama.decode([])).toBe("");
    expect(llama.decode([1, 2])).toBe("");
    expect(llama.decode([1, 2], { skipSpecialTokens: false })).toBe("<s></s>");
  });

  it("turns a byte run with an invalid byte into one U+FFFD per byte, as the reference does", () => {
    const [e2, x82, xac] = [0xe2, 0x82, 0xac].map((byte) => byte + LLAMA_FIRST_BYTE_PIECE);
    expect(llama.decode([e2, x82, xac])).toBe("€");
    expect(llama.decode([e2, x82, xac, e2])).toBe("\uFFFD".repeat(4));
    expect(llama.decode([e2, x82, xac, e2, 15043])).toBe(`${"\uFFFD".repeat(4)} Hello`);
  });
});

describe("encode", () => {
  it("treats unpaired surrogates as U+FFFD", () => {
    expect(llama.encode("a\uD800b")).toEqual(llama.encode("a\uFFFDb"));
    expect(byteLevel.encode("\uDC00")).toEqual(byteLevel.encode("\uFFFD"));
  });

  it("byte-level BPE round-trips any text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
        fc.pre(!text.includes("<|bos|>") && !text.includes("<|eos|>"));
        expect(byteLevel.decode(byteLevel.encode(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it("SentencePiece BPE round-trips any text without its space piece or special-token text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
        fc.pre(!/▁|<s>|<\/s>|<unk>/.test(text));
        expect(llama.decode(llama.encode(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
