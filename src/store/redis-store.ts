import { Redis } from "ioredis";
import { type StateStore, type StoreLimits, StoreUnavailableError } from "./state-store.js";

/**
 * Redis (or Valkey), shared by every replica, so any replica continues any conversation. Values
 * are binary, written with a TTL (SET PX); concurrent commands are pipelined (ioredis's
 * auto-pipelining). Its size bound is Redis's own: maxmemory with an LRU policy (docs/DEPLOY.md).
 *
 * Nothing waits for a Redis that is down: commands are not queued while disconnected (they fail
 * at once) and one that gets no answer fails after COMMAND_TIMEOUT_MS; the client reconnects by
 * itself, so service resumes when Redis returns.
 */

/** Longest wait for one command's answer. */
export const COMMAND_TIMEOUT_MS = 2_000;
/** Reconnection attempts back off to this interval. */
const MAX_RECONNECT_DELAY_MS = 1_000;
const KEY_PREFIX = "trine:response:";

export class RedisStore implements StateStore {
  private readonly client: Redis;

  constructor(
    url: string,
    private readonly limits: StoreLimits,
    readonly description: string,
  ) {
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
      keyPrefix: KEY_PREFIX,
    });
    // Connection errors surface as failed commands (503s) and in /ready; without a listener
    // ioredis would print each one.
    this.client.on("error", () => {});
  }

  /** Waits up to COMMAND_TIMEOUT_MS for the first connection; a Redis still down then is a 503 per request. */
  async connected(): Promise<this> {
    if (this.client.status === "ready") return this;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, COMMAND_TIMEOUT_MS);
      this.client.once("ready", done);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
    return this;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.call(() =>
      this.client.set(
        key,
        Buffer.from(value.buffer, value.byteOffset, value.byteLength),
        "PX",
        this.limits.ttlMs,
      ),
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const value = await this.call(() => this.client.getBuffer(key));
    return value === null ? undefined : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.call(() => this.client.del(key))) > 0;
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }

  usage(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.client.status !== "ready")
      throw new StoreUnavailableError(`Redis is not connected (${this.client.status})`);
    try {
      return await command();
    } catch (error) {
      throw new StoreUnavailableError(`Redis did not answer: ${(error as Error).message}`);
    }
  }
}
