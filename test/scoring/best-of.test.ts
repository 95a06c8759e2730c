import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/** best_of: candidates generated together, the n with the highest mean token logprob returned. */

const dir = makeRandomTestModel();
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, maxSequences: 16 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const complete = (body: Record<string, unknown>) =>
  post(server, "/v1/completions", { model: server.config.modelName, ...body });

type Choice = { index: number; text: string; logprobs: { token_logprobs: number[] } | null };
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

describe("best_of", () => {
  // No end-of-text (id 1): every candidate has exactly max_tokens tokens.
  const sampling = { temperature: 1.2, seed: 40, max_tokens: 6, logit_bias: { "1": -100 } };

  it("returns the n candidates with the highest mean token logprob, best first, and bills all", async () => {
    // The candidates are the choices n = best_of would give: choice i samples with seed + i.
    const all = await complete({ prompt: "Once upon", n: 5, logprobs: 0, ...sampling });
    const ranked = (all.json.choices as Choice[])
      .map((choice) => ({ text: choice.text, score: mean(choice.logprobs!.token_logprobs) }))
      .sort((a, b) => b.score - a.score);
    const best = await complete({ prompt: "Once upon", n: 2, best_of: 5, ...sampling });
    expect(best.status).toBe(200);
    expect(best.json.choices.map((c: Choice) => c.index)).toEqual([0, 1]);
    expect(best.json.choices.map((c: Choice) => c.text)).toEqual(ranked.slice(0, 2).map((c) => c.text));
    expect(best.json.choices[0].logprobs).toBeNull();
    expect(best.json.usage.completion_tokens).toBe(5 * 6);
    expect(best.json.usage.prompt_tokens).toBe(all.json.usage.prompt_tokens);
  });

  it("picks per prompt, with echo and logprobs of the picked candidates", async () => {
    const answer = await complete({
      prompt: ["The cat", "A dog"],
      n: 1,
      best_of: 3,
      echo: true,
      logprobs: 1,
      ...sampling,
    });
    expect(answer.status).toBe(200);
    const [cat, dog] = answer.json.choices as Choice[];
    expect(cat.text.startsWith("The cat")).toBe(true);
    expect(dog.text.startsWith("A dog")).toBe(true);
    const alone = await complete({ prompt: "A dog", n: 3, logprobs: 1, ...sampling });
    const bestDog = (alone.json.choices as Choice[])
      .map((choice) => ({ text: choice.text, score: mean(choice.logprobs!.token_logprobs) }))
      .sort((a, b) => b.score - a.score)[0];
    expect(dog.text).toBe(`A dog${bestDog.text}`);
    expect(answer.json.usage.completion_tokens).toBe(2 * 3 * 6);
  });

  it("is refused below n, with stream, and beyond the limits, naming best_of", async () => {
    for (const body of [
      { n: 3, best_of: 2 },
      { n: 1, best_of: 2, stream: true },
      { n: 1, best_of: 129 },
      { n: 1, best_of: 17 },
    ]) {
      const refused = await complete({ prompt: "x", max_tokens: 2, ...body });
      expect(refused.status).toBe(400);
      expect(refused.json.error.param).toBe("best_of");
    }
    expect((await complete({ prompt: "x", max_tokens: 2, n: 2, best_of: 2, stream: true })).status).toBe(200);
  });
});
