import { describe, expect, it } from "vitest";
import { SequenceTimer, type StepTiming } from "../../src/workers/sequence-timing.js";

/** Step `count` of a loop, 10 ms each from t = 1000, with `batchSize` sequences. */
const step = (count: number, batchSize: number): StepTiming => ({
  startedAt: 1000 + 10 * (count - 1),
  endedAt: 1000 + 10 * count - 2,
  batchSize,
  count,
});

describe("a sequence's timings in its worker", () => {
  it("sends prefill with the first token and decode with the last, nothing between", () => {
    // Joins a loop that has run 4 steps; its prompt takes steps 5 and 6.
    const timer = new SequenceTimer(4);
    const first = timer.token(step(6, 3), false);
    expect(first?.prefill).toMatchObject({ firstTokenAt: 1058, steps: 2, batchSize: 3 });
    expect(first?.decode).toBeUndefined();
    expect(timer.token(step(7, 3), false)).toBeUndefined();
    expect(timer.token(step(8, 5), false)).toBeUndefined();
    const last = timer.token(step(9, 2), true);
    expect(last).toEqual({
      decode: { lastTokenAt: 1088, steps: 3, batchSizeMin: 2, batchSizeMean: 10 / 3, batchSizeMax: 5 },
    });
  });

  it("sends both with a sequence's only token, with no decode steps", () => {
    const timer = new SequenceTimer(0);
    const only = timer.token(step(1, 1), true);
    expect(only?.prefill).toMatchObject({ steps: 1, batchSize: 1, firstTokenAt: 1008 });
    expect(only?.decode).toEqual({
      lastTokenAt: 1008,
      steps: 0,
      batchSizeMin: 0,
      batchSizeMean: 0,
      batchSizeMax: 0,
    });
  });

  it("takes the moment it was made as when the worker took the sequence in", () => {
    const before = performance.timeOrigin + performance.now();
    const timer = new SequenceTimer(0);
    const after = performance.timeOrigin + performance.now();
    const { receivedAt } = timer.token(step(1, 1), false)!.prefill!;
    expect(receivedAt).toBeGreaterThanOrEqual(before);
    expect(receivedAt).toBeLessThanOrEqual(after);
  });
});
