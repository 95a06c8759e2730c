import { openStateStore } from "../../src/store/state-store.js";
import { recordFor } from "./crash-record.js";

/**
 * Writes records to the embedded store at argv[2], concurrently in small waves, and prints each
 * key once its put has resolved (acknowledged), until it is killed. test/store/crash.test.ts kills
 * it with SIGKILL mid-write and checks every acknowledged record.
 */
const store = await openStateStore(
  { kind: "lmdb", directory: process.argv[2] },
  { maxBytes: 1 << 30, ttlMs: 86_400_000 },
);

for (let key = 0; ; key += 4) {
  await Promise.all(
    [0, 1, 2, 3].map(async (offset) => {
      await store.put(`r${key + offset}`, recordFor(key + offset));
      process.stdout.write(`${key + offset}\n`);
    }),
  );
}
