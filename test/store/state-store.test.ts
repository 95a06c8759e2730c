import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedisServer } from "../../loadtest/redis-server.js";
import {
  openStateStore,
  parseStoreLocation,
  type StateStore,
  type StoreLocation,
  StoreUnavailableError,
} from "../../src/store/state-store.js";
import {
  decodeStoredResponse,
  encodeStoredResponse,
  type StoredResponse,
} from "../../src/store/stored-response.js";

/** Every backend, for real: memory, LMDB in a temporary directory, and a redis-server started here. */

let redis: RedisServer;
const directories: string[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

function temporaryDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), "trine-store-"));
  directories.push(dir);
  return dir;
}

const backends: [string, () => StoreLocation][] = [
  ["memory", () => ({ kind: "memory" })],
  ["lmdb", () => ({ kind: "lmdb", directory: temporaryDirectory() })],
  ["redis", () => ({ kind: "redis", url: redis.url })],
];

const bytes = (...values: number[]) => new Uint8Array(values);
const DAY_MS = 86_400_000;

async function opened(location: StoreLocation, maxBytes = 1 << 30, ttlMs = DAY_MS): Promise<StateStore> {
  const store = await openStateStore(location, { maxBytes, ttlMs });
  // ioredis connects in the background; the store answers 503 until it has.
  for (let i = 0; i < 100; i++) {
    try {
      await store.ping();
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return store;
}

describe.each(backends)("the %s store", (name, location) => {
  it("writes, reads back and deletes binary records", async () => {
    const store = await opened(location());
    const key = `k-${name}-${Math.random()}`;
    const value = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
    await store.put(key, value);
    expect(await store.get(key)).toEqual(value);
    expect(await store.get(`${key}-other`)).toBeUndefined();
    await store.put(key, bytes(1, 2, 3));
    expect(await store.get(key)).toEqual(bytes(1, 2, 3));
    expect(await store.delete(key)).toBe(true);
    expect(await store.delete(key)).toBe(false);
    expect(await store.get(key)).toBeUndefined();
    await store.close();
  });

  it("forgets records after their TTL", async () => {
    const store = await opened(location(), 1 << 30, 150);
    await store.put("short", bytes(7));
    expect(await store.get("short")).toEqual(bytes(7));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.get("short")).toBeUndefined();
    await store.close();
  });
});

describe.each(backends.filter(([name]) => name !== "redis"))("the %s store's byte bound", (_, location) => {
  it("drops the least recently used records first, never failing a write", async () => {
    const store = await opened(location(), 3_500);
    for (const key of ["a", "b", "c"]) await store.put(key, new Uint8Array(1_000));
    await store.get("a");
    await store.put("d", new Uint8Array(1_000));
    expect(await store.get("b")).toBeUndefined();
    for (const key of ["a", "c", "d"]) expect(await store.get(key)).toHaveLength(1_000);
    expect(store.usage()).toEqual({ records: 3, bytes: 3_000 });
    await store.close();
  });
});

describe("the embedded store", () => {
  it("keeps its records and their order across a reopen", async () => {
    const location: StoreLocation = { kind: "lmdb", directory: temporaryDirectory() };
    const first = await opened(location, 2_500);
    await first.put("old", new Uint8Array(1_000));
    await first.put("new", new Uint8Array(1_000));
    await first.close();
    const second = await opened(location, 2_500);
    expect(second.usage()).toEqual({ records: 2, bytes: 2_000 });
    await second.put("newest", new Uint8Array(1_000));
    // After a reopen the order is the write order: "old" goes first.
    expect(await second.get("old")).toBeUndefined();
    expect(await second.get("new")).toHaveLength(1_000);
    await second.close();
  });
});

describe("the Redis store when Redis goes away", () => {
  it("fails fast while it is down and recovers by itself when it returns", async () => {
    const server = await startRedisServer();
    const store = await opened({ kind: "redis", url: server.url });
    await store.put("kept", bytes(1));
    await server.kill();
    const started = performance.now();
    await expect(store.get("kept")).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(performance.now() - started).toBeLessThan(500);
    await server.start();
    let recovered = false;
    for (let i = 0; i < 100 && !recovered; i++) {
      recovered = await store.ping().then(
        () => true,
        () => false,
      );
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(recovered).toBe(true);
    await store.put("again", bytes(2));
    expect(await store.get("again")).toEqual(bytes(2));
    await store.close();
    await server.stop();
  });
});

describe("--state-store", () => {
  it("takes memory, redis URLs and directories, and refuses other URLs", () => {
    expect(parseStoreLocation("memory")).toEqual({ kind: "memory" });
    expect(parseStoreLocation("redis://:secret@cache:6379/2")).toEqual({
      kind: "redis",
      url: "redis://:secret@cache:6379/2",
    });
    expect(parseStoreLocation("./state")).toEqual({ kind: "lmdb", directory: "./state" });
    expect(() => parseStoreLocation("http://cache")).toThrow(/redis/);
    expect(() => parseStoreLocation("")).toThrow();
  });
});

describe("a stored response's bytes", () => {
  const record: StoredResponse = {
    id: "resp_1",
    owner: null,
    model: "m",
    response: { id: "resp_1", status: "completed" },
    inputItems: [{ id: "msg_1", type: "message" }],
    conversation: [{ role: "user", content: "Hi" }],
    state: {
      fingerprint: "f",
      tokens: new Uint32Array([0, 5, 70000]),
      values: new Float32Array([1.5, -2, 0.25]),
    },
  };

  it("round-trip, state included", () => {
    const { record: back, stateRejected } = decodeStoredResponse(encodeStoredResponse(record));
    expect(stateRejected).toBe(false);
    expect(back).toEqual(record);
  });

  it("lose their state, never the record, when a state byte is flipped or cut off", () => {
    const encoded = encodeStoredResponse(record);
    const flipped = encoded.slice();
    flipped[flipped.length - 2] ^= 0x40;
    const damaged = decodeStoredResponse(flipped);
    expect(damaged.stateRejected).toBe(true);
    expect(damaged.record.state).toBeNull();
    expect(damaged.record.conversation).toEqual(record.conversation);
    expect(decodeStoredResponse(encoded.slice(0, -3)).stateRejected).toBe(true);
  });
});
