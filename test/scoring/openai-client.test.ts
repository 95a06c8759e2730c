import { rmSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/** The scoring requests through the official openai client, as a user's script sends them. */

const dir = makeRandomTestModel();
let server: InProcessServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, maxSequences: 8 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the openai client", () => {
  it("scores token-id prompts with echo, logprobs and max_tokens 0", async () => {
    const prompts = [
      [0, 200, 201, 202],
      [0, 300, 301],
    ];
    const answer = await client.completions.create({
      model: server.config.modelName,
      prompt: prompts,
      echo: true,
      logprobs: 2,
      max_tokens: 0,
    });
    expect(answer.choices).toHaveLength(2);
    for (const [k, choice] of answer.choices.entries()) {
      expect(choice.finish_reason).toBe("length");
      expect(choice.logprobs?.token_logprobs).toHaveLength(prompts[k].length);
      expect(choice.logprobs?.token_logprobs?.[0]).toBeNull();
      expect(choice.logprobs?.top_logprobs?.[0]).toBeNull();
    }
    expect(answer.usage?.completion_tokens).toBe(0);
  });

  it("picks best_of candidates and refuses best_of below n with a BadRequestError naming it", async () => {
    const best = await client.completions.create({
      model: server.config.modelName,
      prompt: "Once",
      n: 2,
      best_of: 4,
      max_tokens: 3,
      seed: 5,
      logit_bias: { "1": -100 },
    });
    expect(best.choices).toHaveLength(2);
    expect(best.usage?.completion_tokens).toBe(12);
    const refused = client.completions.create({
      model: server.config.modelName,
      prompt: "Once",
      n: 3,
      best_of: 2,
    });
    await expect(refused).rejects.toMatchObject({ status: 400, param: "best_of" });
  });
});
