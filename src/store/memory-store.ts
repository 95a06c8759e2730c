import { LruIndex } from "./lru-index.js";
import type { StateStore, StoreLimits } from "./state-store.js";

/** `--state-store memory`: nothing survives the process; for tests and users who want no persistence. */
export class MemoryStore implements StateStore {
  readonly description = "memory";
  private readonly values = new Map<string, Uint8Array>();
  private readonly index = new LruIndex();

  constructor(private readonly limits: StoreLimits) {}

  async put(key: string, value: Uint8Array): Promise<void> {
    const now = Date.now();
    this.values.set(key, value.slice());
    this.index.set(key, { bytes: value.byteLength, expiresAt: now + this.limits.ttlMs });
    for (const dropped of this.index.evict(this.limits.maxBytes, now)) this.values.delete(dropped);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!this.index.touch(key, Date.now())) {
      this.values.delete(key);
      return undefined;
    }
    return this.values.get(key)?.slice();
  }

  async delete(key: string): Promise<boolean> {
    this.values.delete(key);
    return this.index.remove(key);
  }

  async ping(): Promise<void> {}

  usage(): { records: number; bytes: number } {
    return { records: this.index.records, bytes: this.index.bytes };
  }

  async close(): Promise<void> {
    this.values.clear();
  }
}
