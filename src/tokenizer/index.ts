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
export { createTokenizer, type DecodeOptions, type EncodeOptions, type Tokenizer } from "./tokenizer.js";
