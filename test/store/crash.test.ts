import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { openStateStore } from "../../src/store/state-store.js";
import { recordFor } from "./crash-record.js";

/** The embedded store is crash-safe: `kill -9` during writes leaves every acknowledged record readable. */

const directory = mkdtempSync(join(tmpdir(), "trine-crash-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

it("keeps every acknowledged record through a SIGKILL mid-write", async () => {
  const writer = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "crash-writer.ts"), directory],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const acknowledged: number[] = [];
  let errors = "";
  writer.stderr.on("data", (chunk) => {
    errors += String(chunk);
  });
  let buffered = "";
  writer.stdout.on("data", (chunk) => {
    buffered += String(chunk);
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    acknowledged.push(...lines.map(Number));
  });
  // Kill it once it has been writing for a while, in the middle of its waves.
  let ended: string | undefined;
  writer.once("exit", (code, signal) => {
    ended = `the writer exited early (${code ?? signal}): ${errors}`;
  });
  while (acknowledged.length < 200) {
    if (ended) throw new Error(ended);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const exited = new Promise((resolve) => writer.once("exit", resolve));
  writer.kill("SIGKILL");
  await exited;

  const store = await openStateStore({ kind: "lmdb", directory }, { maxBytes: 1 << 30, ttlMs: 86_400_000 });
  // Compared as buffers: element-wise deep equality of a few hundred 50 KB arrays takes minutes.
  const damaged: number[] = [];
  for (const key of acknowledged) {
    const stored = await store.get(`r${key}`);
    if (!stored || !Buffer.from(stored).equals(Buffer.from(recordFor(key)))) damaged.push(key);
  }
  expect(damaged).toEqual([]);
  expect(acknowledged.length).toBeGreaterThanOrEqual(200);
  await store.close();
}, 60_000);
