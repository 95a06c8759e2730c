import { createHash } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { StateStore } from "./state-store.js";
import type { StoreMetrics } from "./store-metrics.js";

/**
 * States after chat replies, kept in the state store: a client that resends the whole
 * conversation (what chat UIs do) then prefills only its new turn on any replica and after a
 * restart, not only on the replica whose prefix cache still holds the state.
 *
 * A reply's state is keyed by what produced it: the prompt's rendered text (chat template and
 * generation prompt), the state fingerprint (model, tokenizer, template, kernel) and the API
 * key's owner hash. The next turn finds it by rendering its messages up to that reply, without
 * tokenizing. The record holds the token ids the state consumed; it is used only when they are a
 * prefix of the new prompt's ids, so a reply that re-tokenizes differently is never trusted.
 *
 * Layout: "TRP1", u32 token count, u32 value count, a SHA-256 over fingerprint, ids and values
 * (32 bytes), then the ids (u32) and values (f32), little-endian.
 */

export interface ReplyStateKey {
  /** SHA-256 of the API key, null without keys: one key never finds another's states. */
  readonly owner: string | null;
  readonly fingerprint: string;
  /** The rendered prompt whose reply the state follows. */
  readonly promptText: string;
}

export interface ReplyState {
  /** Prompt ids the state has consumed (the prompt and the reply's tokens but its last). */
  readonly tokens: number;
  readonly values: Float32Array;
}

const MAGIC = "TRP1";
const HEADER_BYTES = 4 + 4 + 4 + 32;

function recordKey({ owner, fingerprint, promptText }: ReplyStateKey): string {
  const hash = createHash("sha256")
    .update(`${owner ?? ""}\0${fingerprint}\0`)
    .update(promptText);
  return `chat:${hash.digest("hex")}`;
}

function checksum(fingerprint: string, ids: Uint8Array, values: Uint8Array): Buffer {
  return createHash("sha256").update(fingerprint).update(ids).update(values).digest();
}

const bytesOf = (array: Uint32Array | Float32Array) =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

export function encodeReplyState(
  fingerprint: string,
  ids: readonly number[],
  values: Float32Array,
): Uint8Array {
  const idBytes = bytesOf(Uint32Array.from(ids));
  const valueBytes = bytesOf(values);
  const out = Buffer.alloc(HEADER_BYTES + idBytes.byteLength + valueBytes.byteLength);
  out.write(MAGIC, 0, "latin1");
  out.writeUInt32LE(ids.length, 4);
  out.writeUInt32LE(values.length, 8);
  checksum(fingerprint, idBytes, valueBytes).copy(out, 12);
  out.set(idBytes, HEADER_BYTES);
  out.set(valueBytes, HEADER_BYTES + idBytes.byteLength);
  return out;
}

/** The ids and values, or undefined when the record is truncated, corrupt or of another fingerprint. */
export function decodeReplyState(
  fingerprint: string,
  bytes: Uint8Array,
): { ids: Uint32Array; values: Float32Array } | undefined {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.byteLength < HEADER_BYTES || data.toString("latin1", 0, 4) !== MAGIC) return undefined;
  const idCount = data.readUInt32LE(4);
  const valueCount = data.readUInt32LE(8);
  const valuesAt = HEADER_BYTES + 4 * idCount;
  if (valuesAt + 4 * valueCount !== data.byteLength) return undefined;
  // Copies: aligned views that do not keep the backend's buffer alive.
  const ids = new Uint32Array(data.buffer.slice(data.byteOffset + HEADER_BYTES, data.byteOffset + valuesAt));
  const values = new Float32Array(
    data.buffer.slice(data.byteOffset + valuesAt, data.byteOffset + data.byteLength),
  );
  const expected = data.subarray(12, HEADER_BYTES);
  return checksum(fingerprint, bytesOf(ids), bytesOf(values)).equals(expected) ? { ids, values } : undefined;
}

/**
 * How long a chat request waits for the store, to read a state or to write its reply's: the
 * state only saves prefill, so a slow store must not cost more than it saves. Local LMDB and
 * Redis answer in about a millisecond.
 */
export const LOOKUP_TIMEOUT_MS = 200;
/** After a failed or timed-out operation, lookups and writes pause this long (a store that is down). */
export const PAUSE_AFTER_FAILURE_MS = 1_000;

/**
 * The reply states over a StateStore. Nothing here fails a request: the store is an optimisation
 * for chat, so errors and timeouts count as misses (and in the metrics), and while the store is
 * failing it is left alone for PAUSE_AFTER_FAILURE_MS.
 */
export class ReplyStateStore {
  private pausedUntil = 0;
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly backend: () => Promise<StateStore>,
    private readonly metrics: StoreMetrics,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** The stored record for `key`: its ids and state, if one is stored and checks out. */
  async find(key: ReplyStateKey): Promise<{ ids: Uint32Array; values: Float32Array } | undefined> {
    if (performance.now() < this.pausedUntil) {
      this.metrics.replyStateLookup("skipped");
      return undefined;
    }
    const started = performance.now();
    let bytes: Uint8Array | undefined;
    try {
      bytes = await withTimeout(
        this.backend().then((store) => store.get(recordKey(key))),
        LOOKUP_TIMEOUT_MS,
      );
    } catch (error) {
      this.failed("read", started, error);
      this.metrics.replyStateLookup("error");
      return undefined;
    }
    this.metrics.operation("read", bytes ? "ok" : "missing", since(started));
    const record = bytes && decodeReplyState(key.fingerprint, bytes);
    if (!record) this.metrics.replyStateLookup(bytes ? "rejected" : "miss");
    return record;
  }

  /** The found record's state if it covers a prefix of `promptIds` and leaves a token to feed. */
  covering(
    record: { ids: Uint32Array; values: Float32Array } | undefined,
    promptIds: readonly number[],
  ): ReplyState | undefined {
    if (!record) return undefined;
    const { ids } = record;
    const covers = ids.length < promptIds.length && ids.every((id, i) => promptIds[i] === id);
    this.metrics.replyStateLookup(covers ? "hit" : "rejected");
    return covers ? { tokens: ids.length, values: record.values } : undefined;
  }

  /**
   * Stores the state after a reply. Resolves when it is written, failed, or LOOKUP_TIMEOUT_MS
   * passed (a response waits that long at most: its client's next turn, perhaps on another
   * replica, should find it); never rejects. close() waits for the writes still in flight.
   */
  save(key: ReplyStateKey, consumed: readonly number[], values: Float32Array): Promise<void> {
    if (performance.now() < this.pausedUntil) return Promise.resolve();
    const started = performance.now();
    const bytes = encodeReplyState(key.fingerprint, consumed, values);
    const write = this.backend()
      .then((store) => store.put(recordKey(key), bytes))
      .then(
        () => this.metrics.operation("write", "ok", since(started), bytes.byteLength),
        (error) => this.failed("write", started, error),
      )
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
    return withTimeout(write, LOOKUP_TIMEOUT_MS).catch(() => {});
  }

  /** Waits for the writes in flight. */
  async settle(): Promise<void> {
    await Promise.all(this.writes);
  }

  private failed(operation: "read" | "write", started: number, error: unknown): void {
    this.metrics.operation(operation, "error", since(started));
    this.pausedUntil = performance.now() + PAUSE_AFTER_FAILURE_MS;
    this.log.warn(
      { problem: (error as Error).message, operation },
      "a chat reply state could not be stored or read",
    );
  }
}

class TimeoutError extends Error {
  override readonly name = "TimeoutError";
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const since = (started: number) => (performance.now() - started) / 1000;
