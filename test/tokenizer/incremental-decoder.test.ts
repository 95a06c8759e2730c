import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeNextToken,
  flushIncrementalDecoding,
  type IncrementalDecoderOptions,
  startIncrementalDecoding,
  TokenIdOutOfRangeError,
  type Tokenizer,
} from "../../src/tokenizer/index.js";
import {
  FIXTURE_TOKENIZERS,
  fixtureTokenizer,
  LLAMA_FIRST_BYTE_PIECE,
  parityFixture,
} from "./fixture-tokenizers.js";

const llama = fixtureTokenizer("llama-32000");
const byteLevel = fixtureTokenizer("bytelevel-1k");

/** The text emitted for each id fed, then the text the flush emits. */
function stream(tokenizer: Tokenizer, ids: readonly number[], options: IncrementalDecoderOptions = {}) {
  let state = startIncrementalDecoding(tokenizer, options);
  const deltas: string[] = [];
  let maxWindow = 0;
  for (const id of ids) {
    const step = decodeNextToken(tokenizer, state, id);
    state = step.state;
    deltas.push(step.text);
    maxWindow = Math.max(maxWindow, state.ids.length);
  }
  const flushed = flushIncrementalDecoding(tokenizer, state).text;
  return { deltas, flushed, text: deltas.join("") + flushed, maxWindow };
}

/**
 * What streaming must guarantee: the deltas and the flush add up to decode(ids), and after every
 * id the text emitted so far is a prefix of decode(ids so far), so a delta never shows a character
 * (or U+FFFD) that more ids would change.
 */
function expectStreamsLikeDecode(tokenizer: Tokenizer, ids: readonly number[], skipSpecialTokens: boolean) {
  const { deltas, text } = stream(tokenizer, ids, { skipSpecialTokens });
  expect(text).toBe(tokenizer.decode(ids, { skipSpecialTokens }));
  let emitted = "";
  deltas.forEach((delta, i) => {
    emitted += delta;
    const decodedSoFar = tokenizer.decode(ids.slice(0, i + 1), { skipSpecialTokens });
    expect(decodedSoFar.startsWith(emitted), `after id ${i} of ${JSON.stringify(ids)}`).toBe(true);
  });
}

/** Random ids, biased towards the ones that make decoding hard: byte pieces, special tokens, spaces. */
function hardIds(tokenizer: Tokenizer): fc.Arbitrary<number> {
  const ids = Array.from({ length: tokenizer.vocabSize }, (_, id) => id);
  const bytes = ids.filter(
    (id) => tokenizer.isByteFallbackPiece(id) || [...tokenizer.idToToken(id)!].length === 1,
  );
  const special = ids.filter((id) => tokenizer.isSpecial(id));
  const spaces = ids.filter((id) => /^[▁Ġ]+$/.test(tokenizer.idToToken(id)!));
  return fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: tokenizer.vocabSize - 1 }), weight: 4 },
    { arbitrary: fc.constantFrom(...bytes), weight: 4 },
    { arbitrary: fc.constantFrom(...special), weight: 1 },
    { arbitrary: fc.constantFrom(...spaces), weight: 1 },
  );
}

describe.each(FIXTURE_TOKENIZERS)("incremental decoding: %s", (name) => {
  const tokenizer = fixtureTokenizer(name);
  const { encodeCases, decodeCases } = parityFixture(name);

  it("streams every parity string like decode, skipping or keeping special tokens", () => {
    for (const { idsWithSpecialTokens } of encodeCases) {
      expectStreamsLikeDecode(tokenizer, idsWithSpecialTokens, true);
      expectStreamsLikeDecode(tokenizer, idsWithSpecialTokens, false);
    }
  });

  it("streams the random id sequences of the parity fixture like decode", () => {
    for (const { ids } of decodeCases) {
      expectStreamsLikeDecode(tokenizer, ids, true);
      expectStreamsLikeDecode(tokenizer, ids, false);
    }
  });

  it("streams random id sequences like decode", () => {
    fc.assert(
      fc.property(fc.array(hardIds(tokenizer), { maxLength: 40 }), fc.boolean(), (ids, skipSpecialTokens) =>
        expectStreamsLikeDecode(tokenizer, ids, skipSpecialTokens),
      ),
      { numRuns: 300 },
    );
  });

  it("streams the encoding of random text like decode", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) =>
        expectStreamsLikeDecode(tokenizer, tokenizer.encode(text), true),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (text) =>
        expectStreamsLikeDecode(tokenizer, tokenizer.encode(text), true),
      ),
      { numRuns: 300 },
    );
  });

  it("continues a prompt with the text decode(prompt + generated) adds to decode(prompt)", () => {
    const cases = encodeCases.map((c) => c.idsWithSpecialTokens).filter((ids) => ids.length > 1);
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.nat(), fc.boolean(), (ids, split, skipSpecialTokens) => {
        const promptLength = 1 + (split % (ids.length - 1));
        const promptIds = ids.slice(0, promptLength);
        const whole = tokenizer.decode(ids, { skipSpecialTokens });
        const prompt = tokenizer.decode(promptIds, { skipSpecialTokens });
        // Only defined where the prompt ends on a character boundary, as an encoded prompt does.
        fc.pre(whole.startsWith(prompt));
        const { text } = stream(tokenizer, ids.slice(promptLength), { promptIds, skipSpecialTokens });
        expect(text).toBe(whole.slice(prompt.length));
      }),
      { numRuns: 500 },
    );
  });

  it("keeps a window of a few ids, not the whole sequence", () => {
    const ids = tokenizer.encode(
      encodeCases
        .map((c) => c.text)
        .join(" ")
        .repeat(3),
    );
    const { maxWindow } = stream(tokenizer, ids);
    expect(ids.length).toBeGreaterThan(1000);
    expect(maxWindow).toBeLessThan(40);
  });

  it("throws TokenIdOutOfRangeError for an id outside the vocabulary", () => {
    const state = startIncrementalDecoding(tokenizer);
    expect(() => decodeNextToken(tokenizer, state, tokenizer.vocabSize)).toThrow(TokenIdOutOfRangeError);
  });
});

describe("incremental decoding, case by case", () => {
  it("emits a byte-fallback character only once all its byte pieces are in", () => {
    const ids = llama.encode("I ate 😀 today", { addSpecialTokens: false });
    const bytePieces = ids.filter((id) => llama.isByteFallbackPiece(id));
    expect(bytePieces.map((id) => llama.idToToken(id))).toEqual(["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]);
    const { deltas } = stream(llama, ids);
    expect(deltas.filter((delta) => delta.includes("😀"))).toHaveLength(1);
    expect(deltas.join("")).not.toContain("\uFFFD");
  });

  it("holds a multi-byte character split across byte-level tokens until it is complete", () => {
    const ids = byteLevel.encode("snow ☃ and 😀", { addSpecialTokens: false });
    const { deltas } = stream(byteLevel, ids);
    expect(ids.length).toBeGreaterThan(deltas.filter((delta) => delta !== "").length);
    for (const delta of deltas) expect(delta).not.toContain("\uFFFD");
    expect(deltas.join("")).toBe("snow ☃ and 😀");
  });

  it("emits U+FFFD for an incomplete character left at the end, as decode does", () => {
    const incompleteEuro = [0xe2, 0x82].map((byte) => byte + LLAMA_FIRST_BYTE_PIECE);
    const ids = [...llama.encode("price", { addSpecialTokens: false }), ...incompleteEuro];
    const { deltas, flushed } = stream(llama, ids);
    expect(deltas.join("")).toBe("price");
    expect(flushed).toBe("\uFFFD\uFFFD");
  });

  it("drops the leading space of the first token, as SentencePiece decode does", () => {
    expect(stream(llama, llama.encode("Hello world")).deltas).toEqual(["", "Hello", " world"]);
    expect(stream(llama, llama.encode("Hello world"), { skipSpecialTokens: false }).deltas).toEqual([
      "<s>",
      " Hello",
      " world",
    ]);
  });

  it("keeps the leading space of the first generated token after a prompt", () => {
    const promptIds = llama.encode("Once upon a");
    expect(
      stream(llama, llama.encode(" time", { addSpecialTokens: false }).slice(1), { promptIds }).text,
    ).toBe(" time");
    expect(stream(llama, [931], { promptIds }).text).toBe(" time");
    expect(stream(llama, [931], { promptIds: [1] }).text).toBe("time");
  });

  it("keeps a prompt's trailing byte-fallback run whole as context", () => {
    const promptIds = llama.encode("Smile 😀😀");
    expect(promptIds.slice(-8).every((id) => llama.isByteFallbackPiece(id))).toBe(true);
    const smiley = [0xf0, 0x9f, 0x98, 0x80].map((byte) => byte + LLAMA_FIRST_BYTE_PIECE);
    const generated = [...smiley, ...llama.encode("ok", { addSpecialTokens: false })];
    expect(llama.decode([...promptIds, ...generated])).toBe("Smile 😀😀😀 ok");
    expect(stream(llama, generated, { promptIds }).text).toBe("😀 ok");
  });

  it("goes on streaming when generated bytes spoil a byte run the prompt ends with", () => {
    const promptIds = llama.encode("Smile 😀");
    const generated = [0xe2 + LLAMA_FIRST_BYTE_PIECE, ...llama.encode("ok", { addSpecialTokens: false })];
    // The reference turns the whole run, the prompt's smiley included, into U+FFFDs.
    expect(llama.decode([...promptIds, ...generated])).toBe(`Smile ${"\uFFFD".repeat(5)} ok`);
    // The smiley was sent with the prompt; what follows it is the rest of the spoilt run.
    expect(stream(llama, generated, { promptIds }).deltas).toEqual(["", `${"\uFFFD".repeat(5)} ok`]);
  });

  it("has a plain state: a copy continues exactly like the original", () => {
    const ids = llama.encode("Fork 😀 here, then go on");
    let state = startIncrementalDecoding(llama);
    for (const id of ids.slice(0, 4)) state = decodeNextToken(llama, state, id).state;
    const copy = structuredClone(state);
    const rest = (start: typeof state) => {
      let s = start;
      let text = "";
      for (const id of ids.slice(4)) {
        const step = decodeNextToken(llama, s, id);
        s = step.state;
        text += step.text;
      }
      return text + flushIncrementalDecoding(llama, s).text;
    };
    expect(rest(copy)).toBe(rest(state));
  });
});
