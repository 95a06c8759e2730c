import { describe, expect, it } from "vitest";
import { PrefixStateCache } from "../../src/scheduler/prefix-cache.js";

const state = (mark: number) => new Float32Array([mark, mark]);

describe("prefix state cache", () => {
  it("finds the longest cached prefix that leaves at least one token", () => {
    const cache = new PrefixStateCache(8);
    const prompt = [0, 5, 6, 7, 8, 9];
    cache.store(prompt, 2, state(2));
    cache.store(prompt, 4, state(4));
    cache.store(prompt, 6, state(6));
    expect(cache.lookup(prompt)).toEqual({ tokens: 4, values: state(4) });
    expect(cache.lookup([0, 5, 6, 7, 8, 9, 10])).toEqual({ tokens: 6, values: state(6) });
    expect(cache.lookup([0, 5, 6])).toEqual({ tokens: 2, values: state(2) });
  });

  it("never returns the state of a different prefix of the same length", () => {
    const cache = new PrefixStateCache(8);
    cache.store([0, 1, 2, 3], 3, state(3));
    expect(cache.lookup([0, 1, 9, 3, 4])).toBeUndefined();
    expect(cache.has([0, 1, 2, 99], 3)).toBe(true);
    expect(cache.has([0, 1, 9, 99], 3)).toBe(false);
  });

  it("evicts the least recently used entry first", () => {
    const cache = new PrefixStateCache(2);
    cache.store([1, 1, 1], 2, state(1));
    cache.store([2, 2, 2], 2, state(2));
    cache.lookup([1, 1, 1]);
    cache.store([3, 3, 3], 2, state(3));
    expect(cache.size).toBe(2);
    expect(cache.lookup([1, 1, 1])?.values).toEqual(state(1));
    expect(cache.lookup([2, 2, 2])).toBeUndefined();
    expect(cache.lookup([3, 3, 3])?.values).toEqual(state(3));
  });

  it("holds nothing when sized 0", () => {
    const cache = new PrefixStateCache(0);
    cache.store([1, 2, 3], 2, state(1));
    expect(cache.size).toBe(0);
    expect(cache.lookup([1, 2, 3])).toBeUndefined();
  });
});
