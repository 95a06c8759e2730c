import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { PrefixStateCache } from "../../src/scheduler/prefix-cache.js";
import { post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/**
 * A multiple-choice question as lm-evaluation-harness scores it: one request per choice, each the
 * shared context followed by the choice. The prefix cache keeps the state where they branch, so
 * from the third choice on the context is not fed again, and the scores are the same numbers.
 */

const CONTEXT = [0, ...Array.from({ length: 40 }, (_, i) => 100 + i)];
const CHOICES = [[300, 301, 302], [400, 401], [500, 501, 502, 503], [600]];

describe("branch points in the prefix cache", () => {
  it("plan a state where a prompt branches off a recent one", () => {
    const cache = new PrefixStateCache(8);
    const [a, b] = CHOICES.map((choice) => [...CONTEXT, ...choice]);
    expect(cache.plan(a, []).snapshotAt).toEqual([a.length - 1]);
    expect(cache.plan(b, []).snapshotAt).toEqual([CONTEXT.length, b.length - 1]);
    // The same prompt again is no branch.
    expect(cache.plan(b, []).snapshotAt).toEqual([CONTEXT.length, b.length - 1]);
  });
});

describe("waiting for a shared state that is on its way", () => {
  const state = new Float32Array([1, 2]);
  it("is offered to a prompt continuing it, and ends when it is stored or its sequence ends", async () => {
    const cache = new PrefixStateCache(8);
    const [a, b, c, d] = CHOICES.map((choice) => [...CONTEXT, ...choice]);
    cache.plan(a, []);
    expect(cache.plan(b, []).snapshotAt).toContain(CONTEXT.length); // b will report the branch state
    const wait = cache.pendingPrefix(c);
    expect(wait).toBeInstanceOf(Promise);
    expect(cache.pendingPrefix(c, 1)).toBeUndefined(); // a scored prompt cannot use an unscored state
    expect(cache.pendingPrefix([1, 2, 3])).toBeUndefined();
    cache.store(b, CONTEXT.length, state);
    await wait;
    expect(cache.pendingPrefix(d)).toBeUndefined();
    expect(cache.lookup(d)?.tokens).toBe(CONTEXT.length);

    const other = [0, ...Array.from({ length: 30 }, (_, i) => 700 + i)];
    cache.plan([...other, 1], []);
    cache.plan([...other, 2], []);
    const abandoned = cache.pendingPrefix([...other, 3]);
    expect(abandoned).toBeInstanceOf(Promise);
    cache.settle([...other, 2], [other.length]);
    await abandoned;
    expect(cache.pendingPrefix([...other, 3])).toBeUndefined();
  });
});

describe("scoring the choices of a question", () => {
  const dir = makeRandomTestModel();
  let cached: InProcessServer;
  let uncached: InProcessServer;
  beforeAll(async () => {
    [cached, uncached] = await Promise.all([
      startInProcess({ modelDir: dir, maxSequences: 4 }),
      startInProcess({ modelDir: dir, maxSequences: 4, prefixCacheEntries: 0 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([cached.close(), uncached.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  // What lm-eval's local-completions sends for a loglikelihood request.
  const score = (server: InProcessServer, prompt: number[]) =>
    post(server, "/v1/completions", {
      model: server.config.modelName,
      prompt,
      echo: true,
      logprobs: 1,
      max_tokens: 1,
      temperature: 0,
      seed: 1234,
    });

  it("feeds the shared context twice, not four times, with the same scores as without a cache", async () => {
    const cachedTokens: number[] = [];
    for (const choice of CHOICES) {
      const prompt = [...CONTEXT, ...choice];
      const [withCache, without] = await Promise.all([score(cached, prompt), score(uncached, prompt)]);
      expect(withCache.json.choices[0].logprobs).toEqual(without.json.choices[0].logprobs);
      cachedTokens.push(withCache.json.usage.prompt_tokens_details.cached_tokens);
    }
    expect(cachedTokens).toEqual([0, 0, CONTEXT.length, CONTEXT.length]);
  });

  it("shares the context when the choices arrive at once, or in one request, as they wait for its state", async () => {
    const context = (seed: number) => [
      0,
      ...Array.from({ length: 40 }, (_, i) => 200 + ((i * 7 + seed) % 500)),
    ];
    const prompts = (seed: number) => CHOICES.map((choice) => [...context(seed), ...choice]);
    const concurrent = await Promise.all(prompts(1).map((prompt) => score(cached, prompt)));
    const reference = await Promise.all(prompts(1).map((prompt) => score(uncached, prompt)));
    for (const [k, answer] of concurrent.entries())
      expect(answer.json.choices[0].logprobs).toEqual(reference[k].json.choices[0].logprobs);
    const fromCache = concurrent.map((answer) => answer.json.usage.prompt_tokens_details.cached_tokens);
    expect(fromCache.reduce((sum, tokens) => sum + tokens, 0)).toBe(2 * context(1).length);

    const batch = await post(cached, "/v1/completions", {
      model: cached.config.modelName,
      prompt: prompts(2),
      echo: true,
      logprobs: 1,
      max_tokens: 1,
      temperature: 0,
    });
    expect(batch.json.usage.prompt_tokens_details.cached_tokens).toBe(2 * context(2).length);
    // Every slot comes back once the answers are delivered (the close event may trail the body).
    await expect.poll(() => cached.metric("trine_sequence_slots_used"), { timeout: 5000 }).toBe(0);
    for (const [k, prompt] of prompts(2).entries())
      expect(batch.json.choices[k].logprobs).toEqual(
        (await score(uncached, prompt)).json.choices[0].logprobs,
      );
  });
});
