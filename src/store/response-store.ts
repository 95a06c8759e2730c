import type { FastifyBaseLogger } from "fastify";
import type { StateStore } from "./state-store.js";
import type { StoreMetrics } from "./store-metrics.js";
import {
  CorruptRecordError,
  decodeStoredResponse,
  encodeStoredResponse,
  type StoredResponse,
} from "./stored-response.js";

/**
 * Stored responses over a StateStore: encoding, ownership and metrics. A response belongs to the
 * API key that created it (its SHA-256, `owner`); to any other key it does not exist, so every
 * read answers as for an unknown id.
 */
export class ResponseStore {
  constructor(
    readonly backend: StateStore,
    private readonly metrics: StoreMetrics,
    private readonly log: FastifyBaseLogger,
  ) {}

  async save(record: StoredResponse): Promise<void> {
    const started = performance.now();
    const bytes = encodeStoredResponse(record);
    try {
      await this.backend.put(record.id, bytes);
    } catch (error) {
      this.metrics.operation("write", "error", since(started));
      throw error;
    }
    this.metrics.operation("write", "ok", since(started), bytes.byteLength);
  }

  /** The record if it exists and belongs to `owner`; its state null if it did not check out. */
  async load(
    id: string,
    owner: string | null,
  ): Promise<{ record: StoredResponse; stateRejected: boolean } | undefined> {
    const started = performance.now();
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.backend.get(id);
    } catch (error) {
      this.metrics.operation("read", "error", since(started));
      throw error;
    }
    if (bytes === undefined) {
      this.metrics.operation("read", "missing", since(started));
      return undefined;
    }
    try {
      const loaded = decodeStoredResponse(bytes);
      const found = loaded.record.owner === owner;
      this.metrics.operation("read", found ? "ok" : "missing", since(started));
      return found ? loaded : undefined;
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      this.metrics.operation("read", "error", since(started));
      this.log.warn(
        { responseId: id, problem: error.message },
        "a stored response is corrupt; treated as missing",
      );
      return undefined;
    }
  }

  /** Whether a record of `owner`'s was deleted. */
  async remove(id: string, owner: string | null): Promise<boolean> {
    if (!(await this.load(id, owner))) return false;
    const started = performance.now();
    try {
      const deleted = await this.backend.delete(id);
      this.metrics.operation("delete", deleted ? "ok" : "missing", since(started));
      return deleted;
    } catch (error) {
      this.metrics.operation("delete", "error", since(started));
      throw error;
    }
  }
}

const since = (started: number) => (performance.now() - started) / 1000;
