/**
 * Errors the engine and the model loaders raise. Each names what is wrong in terms a user can act
 * on (the file, the field); the server maps them to HTTP in one place.
 */
export class ModelConfigError extends Error {
  override readonly name = "ModelConfigError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`config.json: field "${field}": ${message}`);
  }
}

export class ModelFileError extends Error {
  override readonly name = "ModelFileError";
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}
