import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import type { SamplingParams } from "../../src/engine/sampling/index.js";
import {
  BatchGenerator,
  type GeneratedToken,
  type SequenceStart,
} from "../../src/generation/batch-generator.js";
import type { SequenceSpec } from "../../src/generation/sequence-spec.js";
import { loadModel } from "../../src/model/loaded-model.js";
import { makeRandomTestModel } from "../helpers/random-model.js";
import { testSpec } from "../helpers/sequence-spec.js";

const dir = makeRandomTestModel();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const loaded = loadModel(dir);

interface Request {
  readonly spec: SequenceSpec;
  readonly start?: SequenceStart;
}

function request(
  prompt: string,
  params: SamplingParams,
  extra: Partial<SequenceSpec> = {},
  start?: SequenceStart,
): Request {
  return { spec: testSpec(loaded.tokenizer.encode(prompt), params, extra), start };
}

function add(generator: BatchGenerator, r: Request): number {
  return generator.add(r.spec, r.start);
}

interface Run {
  tokens: number[];
  text: string;
  finishReason: string | null;
}

/** Runs requests together in one generator until all finish; results in request order. */
function runTogether(requests: Request[], prefillTokensPerStep?: number): Run[] {
  const generator = new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel, {
    prefillTokensPerStep,
  });
  const ids = requests.map((r) => generator.add(r.spec, r.start));
  const runs = new Map(
    ids.map((id) => [id, { tokens: [] as number[], text: "", finishReason: null as string | null }]),
  );
  while (generator.size > 0) {
    for (const t of generator.step().tokens) record(runs.get(t.sequenceId)!, t);
  }
  return ids.map((id) => runs.get(id)!);
}

function record(run: Run, t: GeneratedToken): void {
  run.tokens.push(t.token);
  run.text += t.text;
  run.finishReason = t.finishReason;
}

describe("continuous batching", () => {
  const prompts = [
    "Once upon a time",
    "The rabbit",
    "Alice was beginning to get very tired",
    "A",
    "Down, down",
    "Why?",
  ];

  it("gives every sequence the same tokens and text as running it alone", () => {
    const requests = prompts.map((p, k) =>
      request(p, { temperature: 1, top_p: 0.9, seed: 100 + k }, { maxTokens: 10 + k }),
    );
    const alone = requests.map((r) => runTogether([r])[0]);
    const together = runTogether(requests, 8);
    expect(together).toEqual(alone);
    expect(together.map((r) => r.tokens.length)).toEqual(requests.map((r) => r.spec.maxTokens));
    expect(together.every((r) => r.finishReason === "length")).toBe(true);
  });

  it("emits text whose concatenation is the decode of the generated tokens", () => {
    const [run] = runTogether([request("Once upon a time", { temperature: 1, seed: 5 }, { maxTokens: 40 })]);
    const promptIds = loaded.tokenizer.encode("Once upon a time");
    const full = loaded.tokenizer.decode([...promptIds, ...run.tokens]);
    expect(loaded.tokenizer.decode(promptIds) + run.text).toBe(full);
  });

  it("stops at a stop string that spans tokens and does not emit it", () => {
    const [free] = runTogether([request("The rabbit", { temperature: 1, seed: 9 }, { maxTokens: 40 })]);
    expect(free.text.length).toBeGreaterThan(12);
    const stop = free.text.slice(6, 12);
    const [stopped] = runTogether([
      request("The rabbit", { temperature: 1, seed: 9 }, { maxTokens: 40, stopStrings: [stop] }),
    ]);
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(stopped.text).not.toContain(stop);
  });

  it("stops at a stop token without emitting its text", () => {
    const [free] = runTogether([request("Down", { temperature: 1, seed: 3 }, { maxTokens: 20 })]);
    const stopToken = free.tokens[5];
    const first = free.tokens.indexOf(stopToken);
    const [stopped] = runTogether([
      request("Down", { temperature: 1, seed: 3 }, { maxTokens: 20, stopTokenIds: [stopToken] }),
    ]);
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.tokens).toEqual(free.tokens.slice(0, first + 1));
    const promptIds = loaded.tokenizer.encode("Down");
    const expected = loaded.tokenizer
      .decode([...promptIds, ...free.tokens.slice(0, first)])
      .slice(loaded.tokenizer.decode(promptIds).length);
    expect(stopped.text).toBe(expected);
  });

  it("starts from a cached prefix state exactly as from the full prompt", () => {
    const prompt = "Alice was beginning to get very tired of sitting by her sister";
    const ids = loaded.tokenizer.encode(prompt);
    const generator = new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel, {
      prefillTokensPerStep: 4,
    });
    const first = add(generator, request(prompt, { temperature: 0 }, {}, { snapshotAt: [5] }));
    let snapshot: ReturnType<BatchGenerator["step"]>["snapshots"][number] | undefined;
    const firstRun: Run = { tokens: [], text: "", finishReason: null };
    while (generator.size > 0) {
      const step = generator.step();
      snapshot ??= step.snapshots.find((s) => s.sequenceId === first);
      for (const t of step.tokens) record(firstRun, t);
    }
    expect(snapshot?.promptTokens).toBe(5);
    const [fromCache] = runTogether([
      request(prompt, { temperature: 0 }, {}, { cachedState: { state: snapshot!.state, tokens: 5 } }),
    ]);
    expect(fromCache).toEqual(firstRun);
    expect(ids.length).toBeGreaterThan(5);
  });

  it("frees a cancelled sequence at once and keeps the others running", () => {
    const generator = new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel);
    const a = add(generator, request("A", { temperature: 0 }, { maxTokens: 5 }));
    const b = add(generator, request("B", { temperature: 0 }, { maxTokens: 5 }));
    generator.step();
    expect(generator.cancel(a)).toBe(true);
    expect(generator.size).toBe(1);
    const seen = new Set<number>();
    while (generator.size > 0) for (const t of generator.step().tokens) seen.add(t.sequenceId);
    expect([...seen]).toEqual([b]);
  });

  it("leaves a paused sequence out of the steps and continues it exactly where it stopped", () => {
    const sampled = { temperature: 1, top_p: 0.9, seed: 7 };
    const alone = runTogether([request("Once upon a time", sampled, { maxTokens: 20 })])[0];

    const generator = new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel, {
      prefillTokensPerStep: 4,
    });
    // Paused both while its prompt is being fed (4 tokens a step) and while it generates.
    const a = add(generator, request("Once upon a time", sampled, { maxTokens: 20 }));
    const b = add(generator, request("The rabbit", { temperature: 0 }, { maxTokens: 30 }));
    const runA: Run = { tokens: [], text: "", finishReason: null };
    let stepsWhilePaused = 0;
    for (let step = 0; generator.size > 0; step++) {
      const pause = step === 1 || (step >= 8 && step < 14);
      if (pause) generator.pause(a);
      else generator.resume(a);
      const tokens = generator.step().tokens;
      if (pause) {
        stepsWhilePaused++;
        expect(tokens.some((t) => t.sequenceId === a)).toBe(false);
        // The other sequence runs on meanwhile.
        expect(tokens.some((t) => t.sequenceId === b) || step === 1).toBe(true);
      }
      for (const t of tokens) if (t.sequenceId === a) record(runA, t);
    }
    expect(stepsWhilePaused).toBe(7);
    expect(runA).toEqual(alone);
  });

  it("makes no progress while every sequence is paused", () => {
    const generator = new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel);
    const a = add(generator, request("A", { temperature: 0 }, { maxTokens: 5 }));
    generator.pause(a);
    expect(generator.runnable).toBe(0);
    expect(generator.step()).toMatchObject({ tokens: [], promptTokens: 0 });
    generator.resume(a);
    expect(generator.runnable).toBe(1);
    expect(generator.step().tokens.map((t) => t.sequenceId)).toEqual([a]);
    generator.pause(a);
    expect(generator.cancel(a)).toBe(true);
    expect(generator.runnable).toBe(0);
  });
});
