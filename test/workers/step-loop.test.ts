import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import { BatchGenerator, type GeneratedToken } from "../../src/generation/batch-generator.js";
import type { SequenceSpec } from "../../src/generation/sequence-spec.js";
import { loadModel } from "../../src/model/loaded-model.js";
import { StepLoop } from "../../src/workers/step-loop.js";
import { makeRandomTestModel } from "../helpers/random-model.js";
import { testSpec } from "../helpers/sequence-spec.js";

const dir = makeRandomTestModel();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const loaded = loadModel(dir);

const newLoop = (prefillTokensPerStep?: number) =>
  new StepLoop(new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel, { prefillTokensPerStep }));

function request(prompt: string, maxTokens: number, seed: number): SequenceSpec {
  return testSpec(loaded.tokenizer.encode(prompt), { temperature: 1, seed }, { maxTokens });
}

/** Adds a sequence and records what the loop hands its listener. */
function track(loop: StepLoop, sequence: SequenceSpec) {
  const tokens: GeneratedToken[] = [];
  const { id, ended } = loop.add(sequence, {}, { token: (t) => tokens.push(t), snapshot: () => {} });
  return { id, tokens, ended };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("worker step loop", () => {
  it("lets a sequence join a running batch and gives it the tokens it gets alone", async () => {
    const aloneLoop = newLoop();
    const alone = track(aloneLoop, request("The rabbit", 12, 7));
    expect(await alone.ended).toBe("finished");

    const loop = newLoop();
    const first = track(loop, request("Once upon a time", 30, 1));
    while (first.tokens.length < 3) await nextTurn();
    const joiner = track(loop, request("The rabbit", 12, 7));
    expect(await joiner.ended).toBe("finished");
    // The first sequence kept running while the second one came and went.
    expect(first.tokens.length).toBeLessThan(30);
    expect(await first.ended).toBe("finished");
    expect(joiner.tokens.map((t) => [t.token, t.text, t.finishReason])).toEqual(
      alone.tokens.map((t) => [t.token, t.text, t.finishReason]),
    );
  });

  it("keeps a running stream advancing every step while a long prompt prefills in chunks", async () => {
    const loop = newLoop(16);
    const stream = track(loop, request("A", 200, 3));
    while (stream.tokens.length < 2) await nextTurn();
    const longPrompt = track(loop, request("Alice was beginning to get very tired ".repeat(8), 1, 4));
    const before = stream.tokens.length;
    await longPrompt.ended;
    const promptLength = loaded.tokenizer.encode("Alice was beginning to get very tired ".repeat(8)).length;
    // One stream token per step; the prompt needed at least promptLength / 16 steps.
    expect(stream.tokens.length - before).toBeGreaterThanOrEqual(Math.floor(promptLength / 16));
    loop.cancel(stream.id);
    expect(await stream.ended).toBe("cancelled");
  });

  it("drops a cancelled sequence at once and stops stepping when nothing runs", async () => {
    const loop = newLoop();
    const a = track(loop, request("A", 500, 1));
    const b = track(loop, request("B", 5, 2));
    while (a.tokens.length < 2) await nextTurn();
    loop.cancel(a.id);
    expect(await a.ended).toBe("cancelled");
    const tokensAtCancel = a.tokens.length;
    expect(await b.ended).toBe("finished");
    expect(a.tokens.length).toBe(tokensAtCancel);
    expect(loop.size).toBe(0);
  });

  it("stops stepping while every sequence is paused, and carries on where it was when resumed", async () => {
    const alone = track(newLoop(), request("Once upon a time", 20, 9));
    await alone.ended;

    const generator = new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel);
    let steps = 0;
    const step = generator.step.bind(generator);
    generator.step = () => {
      steps++;
      return step();
    };
    const loop = new StepLoop(generator);
    const paused = track(loop, request("Once upon a time", 20, 9));
    while (paused.tokens.length < 5) await nextTurn();
    loop.pause(paused.id);
    await nextTurn();
    const [tokensAtPause, stepsAtPause] = [paused.tokens.length, steps];
    for (let i = 0; i < 20; i++) await nextTurn();
    // No busy loop either: with nothing runnable, no step is scheduled.
    expect([paused.tokens.length, steps]).toEqual([tokensAtPause, stepsAtPause]);
    loop.resume(paused.id);
    expect(await paused.ended).toBe("finished");
    expect(paused.tokens.map((t) => t.token)).toEqual(alone.tokens.map((t) => t.token));
  });
});
