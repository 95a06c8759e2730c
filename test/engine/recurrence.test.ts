import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { forward } from "../../src/engine/forward.js";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import { prefill } from "../../src/engine/prefill.js";
import { cloneState, createState } from "../../src/engine/state.js";
import { Workspace } from "../../src/engine/workspace.js";
import { loadModelWeights } from "../../src/model/model-dir.js";
import { GOLDEN_DIR } from "./golden-helpers.js";

const { model } = loadModelWeights(join(GOLDEN_DIR, "dev-small-fp16"));
const V = model.config.vocabSize;

function randomTokens(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % V;
  });
}

/** Feeds tokens one at a time (decode steps) and returns every step's logits. */
function decodeOneByOne(tokens: number[], state = createState(model.config)): Float32Array {
  const ws = new Workspace();
  const out = new Float32Array(tokens.length * V);
  tokens.forEach((t, k) => {
    out.set(
      forward(model, [state], { tokens: [t], sequenceOfRow: [0], logitRows: [0] }, referenceKernel, ws),
      k * V,
    );
  });
  return out;
}

describe("the recurrent state", () => {
  it("gives the same logits for a prefill and for token-by-token decoding", () => {
    const tokens = randomTokens(150, 7);
    const whole = prefill(model, createState(model.config), tokens, referenceKernel, new Workspace(), {
      allLogits: true,
    });
    expect(decodeOneByOne(tokens)).toEqual(whole);
  });

  it("continues identically from a prefilled prompt and from a saved and restored state", () => {
    const prompt = randomTokens(40, 3);
    const continuation = randomTokens(20, 11);
    const full = prefill(
      model,
      createState(model.config),
      [...prompt, ...continuation],
      referenceKernel,
      new Workspace(),
      {
        allLogits: true,
      },
    );
    const state = createState(model.config);
    prefill(model, state, prompt, referenceKernel, new Workspace());
    const saved = cloneState(state);
    const first = decodeOneByOne(continuation, state);
    expect(first).toEqual(full.subarray(prompt.length * V));
    const again = decodeOneByOne(continuation, cloneState(saved));
    expect(again).toEqual(first);
    expect(saved.position).toBe(prompt.length);
  });

  it("decodes a batch of different sequences exactly as it decodes each alone", () => {
    const B = 5;
    const prompts = Array.from({ length: B }, (_, b) => randomTokens(3 + 7 * b, 100 + b));
    const next = randomTokens(B * 4, 999);
    const single = prompts.map((p, b) => {
      const state = createState(model.config);
      prefill(model, state, p, referenceKernel, new Workspace());
      return decodeOneByOne(next.slice(b * 4, b * 4 + 4), state);
    });
    const states = prompts.map((p) => {
      const state = createState(model.config);
      prefill(model, state, p, referenceKernel, new Workspace());
      return state;
    });
    const ws = new Workspace();
    for (let step = 0; step < 4; step++) {
      const tokens = prompts.map((_, b) => next[b * 4 + step]);
      const logits = forward(
        model,
        states,
        { tokens, sequenceOfRow: [0, 1, 2, 3, 4], logitRows: [0, 1, 2, 3, 4] },
        referenceKernel,
        ws,
      );
      for (let b = 0; b < B; b++) {
        expect(logits.subarray(b * V, (b + 1) * V)).toEqual(single[b].subarray(step * V, (step + 1) * V));
      }
    }
  });

  it("mixes a prefill chunk and decode rows of other sequences in one batch", () => {
    const a = randomTokens(9, 5);
    const b = randomTokens(1, 6);
    const alone = [a, b].map((t) =>
      prefill(model, createState(model.config), t, referenceKernel, new Workspace()),
    );
    const states = [createState(model.config), createState(model.config)];
    const logits = forward(
      model,
      states,
      { tokens: [...a, ...b], sequenceOfRow: [...a.map(() => 0), 1], logitRows: [a.length - 1, a.length] },
      referenceKernel,
      new Workspace(),
    );
    expect(logits.subarray(0, V)).toEqual(alone[0]);
    expect(logits.subarray(V, 2 * V)).toEqual(alone[1]);
  });

  it("refuses token ids outside the vocabulary", () => {
    expect(() => prefill(model, createState(model.config), [V], referenceKernel, new Workspace())).toThrow(
      RangeError,
    );
    expect(() => prefill(model, createState(model.config), [-1], referenceKernel, new Workspace())).toThrow(
      RangeError,
    );
  });
});
