import { readFileSync } from "node:fs";
import { createTokenizer, type Tokenizer } from "../../src/tokenizer/index.js";

const FIXTURES = new URL("../fixtures/", import.meta.url);

export const FIXTURE_TOKENIZERS = ["llama-32000", "bytelevel-1k"] as const;
export type FixtureTokenizerName = (typeof FIXTURE_TOKENIZERS)[number];

/** Llama's byte pieces <0x00>..<0xFF> are ids 3..258. */
export const LLAMA_FIRST_BYTE_PIECE = 3;

export function readFixtureJson(path: string): unknown {
  return JSON.parse(readFileSync(new URL(path, FIXTURES), "utf8"));
}

export function tokenizerJson(name: FixtureTokenizerName): unknown {
  return readFixtureJson(`tokenizers/${name}/tokenizer.json`);
}

const loaded = new Map<FixtureTokenizerName, Tokenizer>();

/** The fixture tokenizer as the published models ship it: tokenizer.json alone. */
export function fixtureTokenizer(name: FixtureTokenizerName): Tokenizer {
  let tokenizer = loaded.get(name);
  if (tokenizer === undefined) {
    tokenizer = createTokenizer(tokenizerJson(name));
    loaded.set(name, tokenizer);
  }
  return tokenizer;
}

/** What scripts/tokenizer-parity.py recorded with Python `tokenizers`. */
export interface ParityFixture {
  readonly encodeCases: readonly {
    readonly text: string;
    readonly idsWithSpecialTokens: number[];
    readonly idsWithoutSpecialTokens: number[];
    readonly decoded: string;
    readonly decodedKeepingSpecialTokens: string;
  }[];
  readonly decodeCases: readonly {
    readonly ids: number[];
    readonly decoded: string;
    readonly decodedKeepingSpecialTokens: string;
  }[];
}

export function parityFixture(name: FixtureTokenizerName): ParityFixture {
  return readFixtureJson(`tokenizer-parity/${name}.json`) as ParityFixture;
}
