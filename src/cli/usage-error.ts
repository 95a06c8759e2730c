/** A command-line argument or setting that parsed but makes no sense: exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
