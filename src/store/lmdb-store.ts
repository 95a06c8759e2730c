import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { type Database, open, type RootDatabase } from "lmdb";
import { LruIndex } from "./lru-index.js";
import { type StateStore, type StoreLimits, StoreUnavailableError } from "./state-store.js";

/**
 * The embedded default: an LMDB environment in a directory. LMDB was measured against SQLite
 * (better-sqlite3) for this job (README, "Libraries"): its writes commit in a background thread,
 * batched across concurrent puts, where SQLite's synchronous API blocks the event loop for every
 * fsync; and its copy-on-write B-tree never leaves a torn page, so a `kill -9` during writes
 * leaves every acknowledged record readable (test/store/crash.test.ts).
 *
 * Two named databases: `records` (key → record bytes) and `ages` (key → written-at,
 * expires-at and size, 24 bytes), written in one transaction, so that start-up rebuilds the size and age
 * index without reading the records. Reads move a key to most recently used in memory only;
 * after a restart the order is by write time.
 */
export class LmdbStore implements StateStore {
  private readonly index = new LruIndex();
  /** Write times are kept strictly increasing (a microsecond apart within a millisecond), so the order after a reopen is the write order. */
  private lastWrittenAt = 0;

  private constructor(
    readonly description: string,
    private readonly root: RootDatabase,
    private readonly records: Database<Buffer, string>,
    private readonly ages: Database<Buffer, string>,
    private readonly limits: StoreLimits,
  ) {}

  static async open(directory: string, limits: StoreLimits): Promise<LmdbStore> {
    const path = resolve(directory);
    mkdirSync(path, { recursive: true });
    const root = open({ path, maxDbs: 4, compression: false });
    const records = root.openDB<Buffer, string>({ name: "records", encoding: "binary", compression: false });
    const ages = root.openDB<Buffer, string>({ name: "ages", encoding: "binary" });
    const store = new LmdbStore(`lmdb ${path}`, root, records, ages, limits);
    const known: { key: string; writtenAt: number; expiresAt: number; bytes: number }[] = [];
    for (const { key, value } of ages.getRange({})) {
      known.push({
        key,
        writtenAt: value.readDoubleLE(0),
        expiresAt: value.readDoubleLE(8),
        bytes: value.readDoubleLE(16),
      });
    }
    known.sort((a, b) => a.writtenAt - b.writtenAt);
    store.lastWrittenAt = known.at(-1)?.writtenAt ?? 0;
    for (const { key, expiresAt, bytes } of known) store.index.set(key, { bytes, expiresAt });
    await store.dropEvicted();
    return store;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const now = Date.now();
    const writtenAt = Math.max(now, this.lastWrittenAt + 0.001);
    this.lastWrittenAt = writtenAt;
    const age = Buffer.alloc(24);
    age.writeDoubleLE(writtenAt, 0);
    age.writeDoubleLE(now + this.limits.ttlMs, 8);
    age.writeDoubleLE(value.byteLength, 16);
    try {
      await this.root.transaction(() => {
        this.records.put(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        this.ages.put(key, age);
      });
    } catch (error) {
      throw new StoreUnavailableError(`the state store could not write: ${(error as Error).message}`);
    }
    this.index.set(key, { bytes: value.byteLength, expiresAt: now + this.limits.ttlMs });
    await this.dropEvicted();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!this.index.touch(key, Date.now())) return undefined;
    const value = this.records.getBinary(key);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.index.remove(key);
    await this.root.transaction(() => {
      this.records.remove(key);
      this.ages.remove(key);
    });
    return existed;
  }

  async ping(): Promise<void> {}

  usage(): { records: number; bytes: number } {
    return { records: this.index.records, bytes: this.index.bytes };
  }

  async close(): Promise<void> {
    await this.root.close();
  }

  private async dropEvicted(): Promise<void> {
    const dropped = this.index.evict(this.limits.maxBytes, Date.now());
    if (dropped.length === 0) return;
    await this.root.transaction(() => {
      for (const key of dropped) {
        this.records.remove(key);
        this.ages.remove(key);
      }
    });
  }
}
