import { describe, expect, it } from "vitest";
import { FIXTURE_TOKENIZERS, fixtureTokenizer, parityFixture } from "./fixture-tokenizers.js";

/** Test names show the text, shortened and with invisible characters escaped. */
function label(text: string): string {
  const json = JSON.stringify(text);
  return json.length > 48 ? `${json.slice(0, 45)}..."` : json;
}

describe.each(FIXTURE_TOKENIZERS)("parity with Python tokenizers: %s", (name) => {
  const tokenizer = fixtureTokenizer(name);
  const { encodeCases, decodeCases } = parityFixture(name);

  describe.each(encodeCases.map((c) => [label(c.text), c] as const))("text %s", (_, expected) => {
    it("encodes to the same ids, with and without special tokens", () => {
      expect(tokenizer.encode(expected.text)).toEqual(expected.idsWithSpecialTokens);
      expect(tokenizer.encode(expected.text, { addSpecialTokens: false })).toEqual(
        expected.idsWithoutSpecialTokens,
      );
    });

    it("decodes those ids to the same text, skipping or keeping special tokens", () => {
      expect(tokenizer.decode(expected.idsWithSpecialTokens)).toBe(expected.decoded);
      expect(tokenizer.decode(expected.idsWithSpecialTokens, { skipSpecialTokens: false })).toBe(
        expected.decodedKeepingSpecialTokens,
      );
    });

    it("round-trips exactly where Python does", () => {
      const roundTrip = tokenizer.decode(tokenizer.encode(expected.text));
      expect(roundTrip === expected.text).toBe(expected.decoded === expected.text);
    });
  });

  it("decodes random id sequences (byte pieces, special and space tokens) to the same text", () => {
    for (const { ids, decoded, decodedKeepingSpecialTokens } of decodeCases) {
      expect(tokenizer.decode(ids), JSON.stringify(ids)).toBe(decoded);
      expect(tokenizer.decode(ids, { skipSpecialTokens: false }), JSON.stringify(ids)).toBe(
        decodedKeepingSpecialTokens,
      );
    }
  });
});
