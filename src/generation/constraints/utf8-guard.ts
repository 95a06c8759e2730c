import type { Detokenizer } from "../../tokenizer/index.js";

/**
 * What xgrammar's byte-level matching lets through although it is not UTF-8: it checks that a
 * lead byte is followed by the right number of continuation bytes, but not the bytes no valid
 * text contains (C0, C1, F5-FF: overlong or beyond U+10FFFF) nor the second-byte limits after E0,
 * ED, F0 and F4 (overlong forms, surrogates, beyond U+10FFFF). A model writing such a token would
 * put U+FFFD characters in a string whose length, pattern or enum the grammar did check. The
 * guard masks them: tokens whose own bytes can never be valid, always; and after a token that
 * ends with one of those four lead bytes, the tokens whose first byte breaks its limit.
 */
export interface Utf8Guard {
  /** Tokens whose bytes are invalid UTF-8 wherever they stand. */
  readonly neverValid: Int32Array;
  /** Each token's first byte (-1: no bytes, a special token). */
  readonly firstByte: Int16Array;
  /**
   * The lead byte (E0, ED, F0 or F4) a token ends with, alone, so that the next token's first
   * byte is limited; 0 for none.
   */
  readonly limitingLead: Uint8Array;
}

/** The second byte each limiting lead allows (inclusive range). */
const SECOND_BYTE: Readonly<Record<number, readonly [number, number]>> = {
  224: [0xa0, 0xbf],
  237: [0x80, 0x9f],
  240: [0x90, 0xbf],
  244: [0x80, 0x8f],
};

export function utf8Guard(tokenizer: Detokenizer, vocabSize: number): Utf8Guard {
  const neverValid: number[] = [];
  const firstByte = new Int16Array(vocabSize).fill(-1);
  const limitingLead = new Uint8Array(vocabSize);
  const toBytes = tokenBytes(tokenizer);
  for (let id = 0; id < Math.min(vocabSize, tokenizer.vocabSize); id++) {
    const bytes = tokenizer.isSpecial(id) ? null : toBytes(id);
    if (!bytes || bytes.length === 0) continue;
    firstByte[id] = bytes[0];
    if (!validInside(bytes)) neverValid.push(id);
    const last = bytes[bytes.length - 1];
    if (SECOND_BYTE[last]) limitingLead[id] = last;
  }
  return { neverValid: Int32Array.from(neverValid), firstByte, limitingLead };
}

/** Sets to -inf what the guard forbids after `previousToken` (null: nothing generated yet). */
export function maskInvalidUtf8(guard: Utf8Guard, logits: Float32Array, previousToken: number | null): void {
  const { neverValid, firstByte } = guard;
  for (const token of neverValid) logits[token] = Number.NEGATIVE_INFINITY;
  const lead = previousToken === null ? 0 : guard.limitingLead[previousToken];
  const limit = SECOND_BYTE[lead];
  if (!limit) return;
  for (let token = 0; token < logits.length; token++) {
    const byte = firstByte[token];
    if (byte >= 0 && (byte < limit[0] || byte > limit[1])) logits[token] = Number.NEGATIVE_INFINITY;
  }
}

/**
 * Whether `bytes` could be part of valid UTF-8: leading continuation bytes and a trailing
 * incomplete sequence are fine (their other part is in the neighbouring tokens).
 */
function validInside(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] & 0xc0) === 0x80) i++;
  while (i < bytes.length) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    if (lead === 0xc0 || lead === 0xc1 || lead >= 0xf5 || (lead & 0xc0) === 0x80) return false;
    const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    const limit = SECOND_BYTE[lead] ?? [0x80, 0xbf];
    for (let k = 1; k < length; k++) {
      if (i + k >= bytes.length) return true;
      const byte = bytes[i + k];
      const [low, high] = k === 1 ? limit : [0x80, 0xbf];
      if (byte < low || byte > high) return false;
    }
    i += length;
  }
  return true;
}

/** A token's bytes, read from its vocabulary string as the tokenizer's kind spells them. */
function tokenBytes(tokenizer: Detokenizer): (id: number) => Uint8Array | null {
  const encoder = new TextEncoder();
  if (tokenizer.vocabularyType === "byte_level") {
    const byteOf = byteLevelDecoder();
    return (id) => {
      const piece = tokenizer.idToToken(id);
      if (piece === undefined) return null;
      const bytes: number[] = [];
      for (const char of piece) {
        const byte = byteOf.get(char);
        if (byte === undefined) return encoder.encode(piece); // an added token written as text
        bytes.push(byte);
      }
      return Uint8Array.from(bytes);
    };
  }
  return (id) => {
    const piece = tokenizer.idToToken(id);
    if (piece === undefined) return null;
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (byte && tokenizer.vocabularyType === "byte_fallback")
      return Uint8Array.of(Number.parseInt(byte[1], 16));
    return encoder.encode(
      tokenizer.vocabularyType === "byte_fallback" ? piece.replaceAll("\u2581", " ") : piece,
    );
  };
}

/** GPT-2's byte-to-character map, inverted: each of the 256 bytes has one printable character. */
function byteLevelDecoder(): Map<string, number> {
  const printable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  const map = new Map<string, number>();
  let next = 0;
  for (let byte = 0; byte < 256; byte++)
    map.set(String.fromCodePoint(printable(byte) ? byte : 256 + next++), byte);
  return map;
}
