/**
 * Errors the tokenizer layer raises. Each says what is wrong in terms a user can act on; the
 * server maps them to HTTP in one place (a bad token id in a request is a 400, an unusable
 * tokenizer file is a startup failure).
 */

/** tokenizer.json or tokenizer_config.json cannot be used: not JSON, no model, a named token missing. */
export class TokenizerError extends Error {
  override readonly name = "TokenizerError";
}

/** A token id that is not an integer naming a token of the vocabulary, given to decode. */
export class TokenIdOutOfRangeError extends RangeError {
  override readonly name = "TokenIdOutOfRangeError";
  constructor(
    readonly id: number,
    readonly vocabSize: number,
  ) {
    super(`token id ${id} is not in the vocabulary (valid ids are integers 0..${vocabSize - 1})`);
  }
}
