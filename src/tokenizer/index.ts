export {
  createDetokenizer,
  type DecodeOptions,
  type Detokenizer,
  type VocabularyType,
} from "./detokenizer.js";
export { TokenIdOutOfRangeError, TokenizerError } from "./errors.js";
export {
  decodeNextToken,
  flushIncrementalDecoding,
  type IncrementalDecoderOptions,
  type IncrementalDecoderState,
  type IncrementalDecoderStep,
  PROMPT_CONTEXT_IDS,
  startIncrementalDecoding,
} from "./incremental-decoder.js";
export type { SharedVocabulary } from "./shared-vocabulary.js";
export { createTokenizer, type EncodeOptions, type Tokenizer } from "./tokenizer.js";
