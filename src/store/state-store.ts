import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where the Responses API keeps what it stores: one small interface of binary records by key,
 * with three backends behind it (vLLM's ResponsesStore has the same shape): `memory`, the
 * embedded on-disk default (LMDB), and Redis, which many replicas share. Records are opaque
 * bytes here; their layout and checksums are stored-response.ts's.
 */

export interface StateStore {
  /** What /ready and the start-up log show: "memory", "lmdb /var/lib/trine/state", "redis 10.0.0.5:6379". */
  readonly description: string;
  /** Resolves once the record is durable as far as the backend promises (LMDB: committed and synced). */
  put(key: string, value: Uint8Array): Promise<void>;
  /** undefined for a key never written, deleted, expired or evicted. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Whether there was a record to delete. */
  delete(key: string): Promise<boolean>;
  /** Throws StoreUnavailableError when the backend cannot be reached now (/ready). */
  ping(): Promise<void>;
  /** Records and bytes held, where the backend knows them without a scan (not Redis). */
  usage(): { records: number; bytes: number } | undefined;
  close(): Promise<void>;
}

/** The bounds every backend applies (Redis through its own TTLs; its size is Redis's maxmemory). */
export interface StoreLimits {
  /** Least recently used records are dropped first beyond this many bytes. */
  readonly maxBytes: number;
  /** Records expire this long after they were written. */
  readonly ttlMs: number;
}

/** The backend is down or did not answer in time: the request is answered 503 with Retry-After. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/**
 * The embedded store's directory when --state-store is not given: under the user's state
 * directory (XDG), which the container image makes a volume (TRINE_STATE_STORE=/var/lib/trine/state).
 */
export const DEFAULT_STATE_STORE = join(
  process.env.XDG_STATE_HOME || join(homedir(), ".local", "state"),
  "trine",
  "responses",
);

/** Where the store lives, as --state-store / TRINE_STATE_STORE say it. */
export type StoreLocation =
  | { readonly kind: "memory" }
  | { readonly kind: "lmdb"; readonly directory: string }
  | { readonly kind: "redis"; readonly url: string };

/** Parses the setting: `memory`, a `redis://` or `rediss://` URL, or a directory path. */
export function parseStoreLocation(raw: string): StoreLocation {
  const value = raw.trim();
  if (value === "") throw new Error("must be memory, a redis:// or rediss:// URL, or a directory");
  if (value === "memory") return { kind: "memory" };
  if (/^rediss?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error("is not a valid redis:// URL");
    }
    if (url.hostname === "") throw new Error("a redis:// URL needs a host");
    return { kind: "redis", url: value };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value))
    throw new Error("must be memory, a redis:// or rediss:// URL, or a directory");
  return { kind: "lmdb", directory: value };
}

/** The location as it may be shown (a Redis password is never printed). */
export function describeLocation(location: StoreLocation): string {
  if (location.kind === "memory") return "memory";
  if (location.kind === "lmdb") return `lmdb ${location.directory}`;
  const url = new URL(location.url);
  return `redis ${url.protocol === "rediss:" ? "(TLS) " : ""}${url.hostname}:${url.port || "6379"}`;
}

export async function openStateStore(location: StoreLocation, limits: StoreLimits): Promise<StateStore> {
  switch (location.kind) {
    case "memory": {
      const { MemoryStore } = await import("./memory-store.js");
      return new MemoryStore(limits);
    }
    case "lmdb": {
      const { LmdbStore } = await import("./lmdb-store.js");
      return LmdbStore.open(location.directory, limits);
    }
    case "redis": {
      const { RedisStore } = await import("./redis-store.js");
      return new RedisStore(location.url, limits, describeLocation(location)).connected();
    }
  }
}
