import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../src/model/loaded-model.js";
import { type SequenceInput, WorkerCrashError, WorkerPool } from "../../src/scheduler/worker-pool.js";
import type { TokenMessage } from "../../src/workers/messages.js";
import { makeRandomTestModel } from "../helpers/random-model.js";
import { testSpec } from "../helpers/sequence-spec.js";

const dir = makeRandomTestModel();
const loaded = loadModel(dir);
let pool: WorkerPool;
let restarts = 0;

beforeAll(async () => {
  pool = await WorkerPool.start({
    model: loaded.model,
    vocabulary: loaded.tokenizer.vocabulary,
    workers: 2,
    maxSequences: 4,
    kernel: "auto",
    log: () => {},
    onWorkerRestart: () => restarts++,
  });
});
afterAll(async () => {
  await pool.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function input(prompt: string, maxTokens: number, seed: number): SequenceInput {
  return {
    spec: testSpec(loaded.tokenizer.encode(prompt), { temperature: 1, seed }, { maxTokens }),
    snapshotAt: [],
  };
}

/** Runs a sequence, recording its events; `released` resolves when the worker let it go. */
function run(sequence: SequenceInput, onToken?: (count: number) => void) {
  const tokens: TokenMessage[] = [];
  const failures: Error[] = [];
  let handle: ReturnType<WorkerPool["run"]> | undefined;
  const released = new Promise<void>((resolve) => {
    handle = pool.run(sequence, {
      token: (message) => {
        tokens.push(message);
        onToken?.(tokens.length);
      },
      snapshot: () => {},
      failed: (error) => failures.push(error),
      released: resolve,
    });
  });
  return { tokens, failures, released, cancel: () => handle!.cancel() };
}

describe("worker pool", () => {
  it("streams every token of a sequence and ends it with a finish reason", async () => {
    const sequence = run(input("Once upon a time", 20, 1));
    await sequence.released;
    expect(sequence.tokens).toHaveLength(20);
    expect(sequence.tokens.at(-1)?.finishReason).toBe("length");
    expect(sequence.tokens.slice(0, -1).every((t) => t.finishReason === null)).toBe(true);
    expect(sequence.failures).toEqual([]);
  });

  it("delivers tokens while the sequence runs, so a cancel after the first one stops it early", async () => {
    let cancel = () => {};
    const sequence = run(input("Once upon a time", 5000, 2), (count) => {
      if (count === 1) cancel();
    });
    cancel = sequence.cancel;
    await sequence.released;
    expect(sequence.tokens.length).toBeGreaterThanOrEqual(1);
    expect(sequence.tokens.length).toBeLessThan(5000);
    expect(sequence.failures).toEqual([]);
  });

  it("fails the sequences of a worker that dies, starts a replacement and keeps serving", async () => {
    const victims = [run(input("A", 100_000, 3)), run(input("B", 100_000, 4)), run(input("C", 100_000, 5))];
    while (victims.some((v) => v.tokens.length === 0)) await new Promise((resolve) => setTimeout(resolve, 5));
    await pool.threads[0].terminate();
    await Promise.race(victims.map((v) => v.released));
    const failed = victims.filter((v) => v.failures.length > 0);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0].failures[0]).toBeInstanceOf(WorkerCrashError);
    for (const v of victims) v.cancel();
    await Promise.all(victims.map((v) => v.released));
    expect(restarts).toBe(1);

    const after = run(input("Once upon a time", 10, 6));
    await after.released;
    expect(after.tokens).toHaveLength(10);
  });
});
