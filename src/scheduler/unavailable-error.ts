/** Generation cannot be served now: the model is loading, or the server is shutting down. */
export class UnavailableError extends Error {
  override readonly name = "UnavailableError";
  constructor(
    message: string,
    readonly reason: "loading" | "draining",
  ) {
    super(message);
  }
}
