import { describe, expect, it } from "vitest";
import type { LogitsProcessor } from "../../src/engine/sampling/logits-processor.js";
import { createSampler, createSamplerScratch, sampleToken } from "../../src/engine/sampling/sampler.js";
import type { SamplingParams } from "../../src/engine/sampling/sampling-params.js";

/**
 * The processed logits for `logits` after `prompt` and then `generated`, as plain numbers: what
 * the sampler's processors make of them, in the sampler's order.
 */
function processed(
  logits: number[],
  params: SamplingParams,
  prompt: number[] = [],
  generated: number[] = [],
): number[] {
  const sampler = createSampler({ ...params, seed: 0 }, { promptIds: prompt });
  for (const token of generated) for (const processor of sampler.processors) processor.accept(token);
  const input = Float32Array.from(logits);
  const output = input.slice();
  for (const processor of sampler.processors) processor.process(output);
  expect(Array.from(input)).toEqual(logits);
  return Array.from(output);
}

// Values are sums of powers of two, so float32 holds every intermediate exactly.
describe("logit_bias and penalties", () => {
  it("apply all together in vLLM's order: bias, repetition, then frequency and presence", () => {
    const params = {
      logit_bias: { "4": 1.5 },
      repetition_penalty: 2,
      frequency_penalty: 0.25,
      presence_penalty: 0.5,
    };
    // Prompt [0, 1], generated [2, 2, 0].
    //   0: seen, 2 > 0 → 1; generated once → 1 − (0.25 + 0.5) = 0.25
    //   1: seen in the prompt only, −2 ≤ 0 → −4; prompt tokens carry no presence or frequency penalty
    //   2: seen, 1 → 0.5; generated twice → 0.5 − (2 × 0.25 + 0.5) = −0.5
    //   3: untouched
    //   4: −1 + 1.5 = 0.5, never seen
    expect(processed([2, -2, 1, 0.5, -1], params, [0, 1], [2, 2, 0])).toEqual([0.25, -4, -0.5, 0.5, 0.5]);
  });

  it("repetition penalty divides positive logits and multiplies negative ones, so both drop", () => {
    expect(processed([3, -3, 0, 3], { repetition_penalty: 1.5 }, [0, 1, 2])).toEqual([2, -4.5, 0, 3]);
    // Below 1 it rewards repetition instead, by the same rule.
    expect(processed([3, -3], { repetition_penalty: 0.5 }, [], [0, 1])).toEqual([6, -1.5]);
  });

  it("repetition penalty sees the biased logit", () => {
    // −1 + 2 = 1 > 0 → 1 / 2. Penalising first would give −1 × 2 + 2 = 0.
    expect(processed([-1], { logit_bias: { "0": 2 }, repetition_penalty: 2 }, [0])).toEqual([0.5]);
  });

  it("presence penalty counts once per token, frequency penalty once per occurrence", () => {
    expect(processed([0, 0, 0], { presence_penalty: 0.5 }, [], [0, 0, 0, 1])).toEqual([-0.5, -0.5, 0]);
    expect(processed([0, 0, 0], { frequency_penalty: 0.5 }, [], [0, 0, 0, 1])).toEqual([-1.5, -0.5, 0]);
    // Negative values encourage repetition.
    expect(processed([0, 0], { presence_penalty: -1, frequency_penalty: -0.25 }, [], [1, 1])).toEqual([
      0, 1.5,
    ]);
  });

  it("logit_bias adds to the named tokens only", () => {
    expect(processed([1, 1, 1], { logit_bias: { "0": -100, "2": 100 } })).toEqual([-99, 1, 101]);
  });

  it("default params leave the logits as they are, even with history", () => {
    expect(processed([1.5, -2, 0.25], {}, [0, 1], [1, 2])).toEqual([1.5, -2, 0.25]);
  });
});

describe("the logits-processor stage", () => {
  /** A processor that records what it saw and bans one token, as a grammar's mask would. */
  function banning(token: number, seen: string[]): LogitsProcessor {
    return {
      process(logits) {
        seen.push(`process ${Array.from(logits).join(",")}`);
        logits[token] = Number.NEGATIVE_INFINITY;
      },
      accept(chosen) {
        seen.push(`accept ${chosen}`);
      },
      clone: () => banning(token, seen),
    };
  }

  it("runs a constraint after logit_bias and before the penalties, and tells it the drawn token", () => {
    const seen: string[] = [];
    const sampler = createSampler(
      { temperature: 0, logit_bias: { "1": 2 }, repetition_penalty: 2 },
      { promptIds: [2], constraint: banning(1, seen) },
    );
    const scratch = createSamplerScratch(3);
    // Token 1 would win after its bias (0 + 2 > 1.5), but the constraint bans it; token 2's 3 is
    // halved by the repetition penalty after the constraint ran, leaving token 0's 1.75 on top.
    const { token } = sampleToken(Float32Array.from([1.75, 0, 3]), sampler, scratch);
    expect(seen).toEqual(["process 1.75,2,3", "accept 0"]);
    expect(token).toBe(0);
  });

  it("creates no processor for parameters that change nothing", () => {
    expect(
      createSampler({ repetition_penalty: 1, presence_penalty: 0, logit_bias: {} }, { promptIds: [] })
        .processors,
    ).toEqual([]);
  });
});
