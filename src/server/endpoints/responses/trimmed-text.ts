/**
 * The output text without leading or trailing whitespace, as it streams. A model continuing
 * "Assistant:" starts with a space, and one stopped by "\nUser:" ends with a newline; the chat
 * template frames an assistant message with its own separators ("Assistant: " + text + "\n\n"),
 * so only the trimmed text, sent back as the next turn's history, renders to the tokens the model
 * actually read, which is what lets the stored state be reused. Trailing whitespace is held back
 * until text follows it, so the deltas always add up to the final text.
 */
export class TrimmedText {
  private started = false;
  private heldWhitespace = "";
  private shown = "";

  /** The part of `text` that can be shown now. */
  push(text: string): string {
    let out = text;
    if (!this.started) {
      out = out.trimStart();
      if (out === "") return "";
      this.started = true;
    }
    const body = out.trimEnd();
    const tail = out.slice(body.length);
    if (body === "") {
      this.heldWhitespace += tail;
      return "";
    }
    const shown = this.heldWhitespace + body;
    this.heldWhitespace = tail;
    this.shown += shown;
    return shown;
  }

  /** The whole text shown. */
  finish(): string {
    return this.shown;
  }
}
