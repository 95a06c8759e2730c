/**
 * The parts of @huggingface/tokenizers (the JavaScript port of HF tokenizers) that we use, typed.
 * The package's own .d.ts files re-export through extensionless relative paths, which NodeNext
 * resolution cannot follow, so under our compiler settings its exports are `any` or missing.
 * These shapes are taken from node_modules/@huggingface/tokenizers/types (version 0.2.0).
 */
import * as hfTokenizers from "@huggingface/tokenizers";

export interface HfAddedToken {
  readonly content: string;
  readonly id: number;
  readonly special: boolean;
}

export interface HfDecoder {
  readonly config: object;
  added_tokens: HfAddedToken[];
  end_of_word_suffix: string | null;
  decode_chain(tokens: string[]): string[];
  /** decode_chain joined: what the port's Tokenizer.decode calls. */
  decode(tokens: string[]): string;
}

export interface HfByteFallbackDecoder extends HfDecoder {
  /** Its own field; also what tells the type apart from HfDecoder, so instanceof narrows. */
  readonly text_decoder: { decode(bytes: Uint8Array): string };
}

export interface HfSequenceDecoder extends HfDecoder {
  decoders: HfDecoder[];
}

export interface HfTokenizer {
  decoder: HfDecoder | null;
  readonly model: { readonly vocab: readonly string[] } | null;
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(
    ids: number[],
    options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean },
  ): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, HfAddedToken>;
}

interface HfTokenizersModule {
  Tokenizer: new (tokenizerJson: object, tokenizerConfig: object) => HfTokenizer;
  ByteFallbackDecoder: new (config: object) => HfByteFallbackDecoder;
  SequenceDecoder: new (config: object) => HfSequenceDecoder;
}

const typedModule = hfTokenizers as unknown as HfTokenizersModule;
export const HfTokenizer = typedModule.Tokenizer;
export const HfByteFallbackDecoder = typedModule.ByteFallbackDecoder;
export const HfSequenceDecoder = typedModule.SequenceDecoder;
