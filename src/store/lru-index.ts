/**
 * The size and age bookkeeping of the stores that keep their records themselves (memory, LMDB):
 * keys in least-recently-used order with their sizes and expiry times, so that the bytes bound
 * and the TTL can be enforced without scanning the records.
 */
export interface IndexEntry {
  readonly bytes: number;
  readonly expiresAt: number;
}

export class LruIndex {
  /** Map order is the LRU order: oldest first. */
  private readonly entries = new Map<string, IndexEntry>();
  private total = 0;

  get records(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }

  /** The entry, moved to most recently used; undefined (and forgotten) when it has expired. */
  touch(key: string, now: number): IndexEntry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= now) {
      this.total -= entry.bytes;
      return undefined;
    }
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: IndexEntry): void {
    this.remove(key);
    this.entries.set(key, entry);
    this.total += entry.bytes;
  }

  remove(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    this.total -= entry.bytes;
    return true;
  }

  /**
   * Keys to drop, forgotten here already: the expired ones, then the least recently used until
   * the total is within maxBytes (the newest record stays even if it alone is larger).
   */
  evict(maxBytes: number, now: number): string[] {
    const dropped: string[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) continue;
      dropped.push(key);
    }
    for (const key of dropped) this.remove(key);
    for (const [key] of this.entries) {
      if (this.total <= maxBytes || this.entries.size <= 1) break;
      this.remove(key);
      dropped.push(key);
    }
    return dropped;
  }
}
