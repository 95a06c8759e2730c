import { createHash } from "node:crypto";

/**
 * One stored response, as the Responses API keeps it, and its byte layout.
 *
 * A conversation continues from text, not from trust in a blob: the next turn's prompt is the
 * chat template over `conversation` (every turn's messages through this response's output) plus
 * the new input, tokenized whole, exactly as if the client had sent the whole conversation. The
 * stored state is a cache of a prefix of that prompt: the recurrent state after `state.tokens`
 * (the prompt and every generated token but the last, which was never fed). It is used only when
 * those ids are a prefix of the new prompt, when its fingerprint is this server's model, kernel
 * and template, and when its checksum holds; anything else rebuilds the state from the text.
 * Since the ids it consumed are stored with it, and the penalties see the whole prompt (which
 * the spec carries), nothing else is needed to continue exactly.
 *
 * Layout: "TRS1", u32 header length, the header as JSON (everything but the state), then the
 * state's token ids (u32) and values (f32), little-endian; the header holds their counts and a
 * SHA-256 over fingerprint, ids and values.
 */

/** A message of the conversation as the chat template sees it. */
export interface ConversationMessage {
  readonly role: "system" | "developer" | "user" | "assistant";
  readonly content: string;
}

export interface StoredState {
  /** Model weights, tokenizer, chat template and kernel the state was computed with. */
  readonly fingerprint: string;
  /** The prompt ids the state has consumed, in order. */
  readonly tokens: Uint32Array;
  readonly values: Float32Array;
}

export interface StoredResponse {
  readonly id: string;
  /** SHA-256 (hex) of the API key that created it; null on a server without keys. */
  readonly owner: string | null;
  readonly model: string;
  /** The response object as GET /v1/responses/{id} returns it. */
  readonly response: Record<string, unknown>;
  /** This request's own input items, with their ids (GET .../input_items). */
  readonly inputItems: readonly Record<string, unknown>[];
  /** Every turn through this response's output; `instructions` are not in it (never inherited). */
  readonly conversation: readonly ConversationMessage[];
  readonly state: StoredState | null;
}

/** The record's header does not parse: the record cannot be used at all. */
export class CorruptRecordError extends Error {
  override readonly name = "CorruptRecordError";
}

const MAGIC = "TRS1";

interface Header extends Omit<StoredResponse, "state"> {
  readonly state: { fingerprint: string; tokens: number; values: number; checksum: string } | null;
}

function stateChecksum(fingerprint: string, tokens: Uint8Array, values: Uint8Array): string {
  return createHash("sha256").update(fingerprint).update(tokens).update(values).digest("hex");
}

const bytesOf = (array: Uint32Array | Float32Array) =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

export function encodeStoredResponse(record: StoredResponse): Uint8Array {
  const { state } = record;
  const tokens = state ? bytesOf(state.tokens) : new Uint8Array(0);
  const values = state ? bytesOf(state.values) : new Uint8Array(0);
  const header: Header = {
    ...record,
    state: state && {
      fingerprint: state.fingerprint,
      tokens: state.tokens.length,
      values: state.values.length,
      checksum: stateChecksum(state.fingerprint, tokens, values),
    },
  };
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.byteLength + tokens.byteLength + values.byteLength);
  out.write(MAGIC, 0, "latin1");
  out.writeUInt32LE(json.byteLength, 4);
  json.copy(out, 8);
  out.set(tokens, 8 + json.byteLength);
  out.set(values, 8 + json.byteLength + tokens.byteLength);
  return out;
}

/**
 * The record; `stateRejected` says its state was present but did not check out (truncated or
 * checksum wrong), in which case `state` is null and the conversation is rebuilt from the text.
 */
export function decodeStoredResponse(bytes: Uint8Array): { record: StoredResponse; stateRejected: boolean } {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.byteLength < 8 || data.toString("latin1", 0, 4) !== MAGIC)
    throw new CorruptRecordError("not a stored response");
  const length = data.readUInt32LE(4);
  let header: Header;
  try {
    header = JSON.parse(data.toString("utf8", 8, 8 + length)) as Header;
  } catch {
    throw new CorruptRecordError("the stored response's header does not parse");
  }
  if (typeof header?.id !== "string" || !Array.isArray(header.conversation))
    throw new CorruptRecordError("the stored response's header is incomplete");
  const base = { ...header, state: null };
  if (!header.state) return { record: base, stateRejected: false };
  const { fingerprint, tokens: tokenCount, values: valueCount, checksum } = header.state;
  const tokensAt = 8 + length;
  const valuesAt = tokensAt + 4 * tokenCount;
  if (valuesAt + 4 * valueCount !== data.byteLength) return { record: base, stateRejected: true };
  // Copies: the views must be aligned, and must not keep the backend's buffer alive.
  const tokens = new Uint32Array(data.buffer.slice(data.byteOffset + tokensAt, data.byteOffset + valuesAt));
  const values = new Float32Array(
    data.buffer.slice(data.byteOffset + valuesAt, data.byteOffset + valuesAt + 4 * valueCount),
  );
  if (stateChecksum(fingerprint, bytesOf(tokens), bytesOf(values)) !== checksum)
    return { record: base, stateRejected: true };
  return { record: { ...base, state: { fingerprint, tokens, values } }, stateRejected: false };
}
