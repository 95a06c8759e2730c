import { HfByteFallbackDecoder, type HfDecoder, HfSequenceDecoder } from "./hf-tokenizers.js";

/** The piece a byte-fallback vocabulary (Llama's) uses for a byte that no merged token covers. */
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function isBytePiece(token: string): boolean {
  return BYTE_PIECE.test(token);
}

/**
 * ByteFallback as the reference Rust `tokenizers` implements it: a run of byte pieces that is
 * valid UTF-8 becomes its text, and a run that is not becomes one U+FFFD per byte, valid
 * characters in it included. The JavaScript port instead decodes a run with a lenient
 * TextDecoder, which keeps the valid characters and puts one U+FFFD per maximal invalid
 * subsequence: [<0xE2>, <0x82>, <0xAC>, <0xE2>] is "€�" there, "����" in Python and here. We follow
 * the reference so that a model's output reads the same as under its own tokenizer.
 */
class ReferenceByteFallbackDecoder extends HfByteFallbackDecoder {
  override decode_chain(tokens: string[]): string[] {
    const decoded: string[] = [];
    let run: number[] = [];
    const endRun = () => {
      if (run.length > 0) decoded.push(decodeByteRun(run));
      run = [];
    };
    for (const token of tokens) {
      const byte = BYTE_PIECE.exec(token);
      if (byte) {
        run.push(Number.parseInt(byte[1], 16));
      } else {
        endRun();
        decoded.push(token);
      }
    }
    endRun();
    return decoded;
  }
}

function decodeByteRun(bytes: readonly number[]): string {
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    return "\uFFFD".repeat(bytes.length);
  }
}

/**
 * The decoder pipeline with every ByteFallback step replaced by the reference behaviour (a
 * Sequence is changed in place), and whether it has one: then decode joins byte pieces across
 * tokens.
 */
export function withReferenceByteFallback(decoder: HfDecoder | null): {
  decoder: HfDecoder | null;
  usesByteFallback: boolean;
} {
  if (decoder instanceof HfByteFallbackDecoder) {
    const replacement = new ReferenceByteFallbackDecoder(decoder.config);
    replacement.added_tokens = decoder.added_tokens;
    replacement.end_of_word_suffix = decoder.end_of_word_suffix;
    return { decoder: replacement, usesByteFallback: true };
  }
  if (decoder instanceof HfSequenceDecoder) {
    let usesByteFallback = false;
    decoder.decoders = decoder.decoders.map((step) => {
      const replaced = withReferenceByteFallback(step);
      usesByteFallback ||= replaced.usesByteFallback;
      return replaced.decoder ?? step;
    });
    return { decoder, usesByteFallback };
  }
  return { decoder, usesByteFallback: false };
}
