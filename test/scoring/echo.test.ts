import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { parseSse } from "../../loadtest/sse-events.js";
import { post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/** echo with logprobs, max_tokens 0, prompt_logprobs on completions and chat, and their refusals. */

const dir = makeRandomTestModel();
let server: InProcessServer;
const EOS = 1;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, maxSequences: 8 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const complete = (body: Record<string, unknown>) =>
  post(server, "/v1/completions", { model: server.config.modelName, temperature: 0, ...body });
const chat = (body: Record<string, unknown>) =>
  post(server, "/v1/chat/completions", { model: server.config.modelName, temperature: 0, ...body });

const PROMPT = [0, 300, 301, 302, 303, 304, 305];

describe("echo with logprobs", () => {
  it("puts the scored prompt first, then the generated tokens", async () => {
    const scored = await complete({ prompt: PROMPT, echo: true, logprobs: 2, max_tokens: 0 });
    const generated = await complete({ prompt: PROMPT, echo: true, logprobs: 2, max_tokens: 3 });
    const alone = await complete({ prompt: PROMPT, logprobs: 2, max_tokens: 3 });
    const prompt = scored.json.choices[0].logprobs;
    const both = generated.json.choices[0].logprobs;
    expect(prompt.tokens).toHaveLength(PROMPT.length);
    expect(both.tokens).toHaveLength(PROMPT.length + 3);
    expect(both.token_logprobs.slice(0, PROMPT.length)).toEqual(prompt.token_logprobs);
    expect(both.top_logprobs.slice(0, PROMPT.length)).toEqual(prompt.top_logprobs);
    expect(both.token_logprobs.slice(PROMPT.length)).toEqual(alone.json.choices[0].logprobs.token_logprobs);
    expect(prompt.top_logprobs[0]).toBeNull();
    for (const top of prompt.top_logprobs.slice(1)) expect(Object.keys(top).length).toBeLessThanOrEqual(2);
    // text_offset indexes the echoed text: each token's text is where its offset says.
    const { text } = generated.json.choices[0];
    expect(text.startsWith(scored.json.choices[0].text)).toBe(true);
    both.tokens.forEach((token: string, k: number) => {
      if (k > 0) expect(text.slice(both.text_offset[k], both.text_offset[k] + token.length)).toBe(token);
    });
    expect(generated.json.usage.completion_tokens).toBe(3);
  });

  it("keeps the stop token's entry, so a max_tokens 1 request always has one entry after the prompt", async () => {
    const stopped = await complete({
      prompt: PROMPT,
      echo: true,
      logprobs: 1,
      max_tokens: 1,
      logit_bias: { [EOS]: 100 },
    });
    const [choice] = stopped.json.choices;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.logprobs.token_logprobs).toHaveLength(PROMPT.length + 1);
    expect(choice.logprobs.token_logprobs.at(-1)).toBeGreaterThan(-0.01);
  });

  it("streams the echoed prompt with its scores first, the same numbers as unstreamed", async () => {
    const body = { prompt: PROMPT, echo: true, logprobs: 1, max_tokens: 4, seed: 3, temperature: 1 };
    const whole = (await complete(body)).json.choices[0];
    const stream = await complete({ ...body, stream: true });
    const chunks = parseSse(stream.text)
      .slice(0, -1)
      .map((event) => JSON.parse(event.data).choices[0]);
    expect(chunks[0].text).toBe(whole.text.slice(0, chunks[0].text.length));
    expect(chunks.map((c) => c.text).join("")).toBe(whole.text);
    const streamed = chunks.flatMap((c) => c.logprobs?.token_logprobs ?? []);
    expect(streamed).toEqual(whole.logprobs.token_logprobs);
    expect(chunks.flatMap((c) => c.logprobs?.text_offset ?? [])).toEqual(whole.logprobs.text_offset);
  });

  it("scores a batch of prompts, each with its own scores", async () => {
    const prompts = [PROMPT, PROMPT.slice(0, 4), [0, 500, 501]];
    const batch = await complete({ prompt: prompts, echo: true, logprobs: 1, max_tokens: 0 });
    expect(batch.status).toBe(200);
    for (const [p, ids] of prompts.entries()) {
      const single = await complete({ prompt: ids, echo: true, logprobs: 1, max_tokens: 0 });
      expect(batch.json.choices[p].logprobs).toEqual(single.json.choices[0].logprobs);
    }
  });
});

describe("prompt_logprobs", () => {
  it("lists each position's score, rank and alternatives by id on completions, as echo scores them", async () => {
    const answer = await complete({
      prompt: PROMPT,
      max_tokens: 2,
      prompt_logprobs: 3,
      logprobs: 3,
      echo: true,
    });
    const [choice] = answer.json.choices;
    expect(choice.prompt_logprobs).toHaveLength(PROMPT.length);
    expect(choice.prompt_logprobs[0]).toBeNull();
    for (let position = 1; position < PROMPT.length; position++) {
      const entry = choice.prompt_logprobs[position];
      expect(entry[PROMPT[position]].logprob).toBe(choice.logprobs.token_logprobs[position]);
      const ranks = Object.values(entry).map((value) => (value as { rank: number }).rank);
      expect(ranks).toContain(1);
      expect(Object.keys(entry).length).toBeGreaterThanOrEqual(3);
    }
  });

  it("scores a chat's templated prompt as completions score the same ids", async () => {
    const messages = [{ role: "user", content: "Hello there" }];
    const ids: number[] = (await post(server, "/tokenize", { messages })).json.tokens;
    const fromChat = await chat({ messages, max_tokens: 1, prompt_logprobs: 2 });
    expect(fromChat.status).toBe(200);
    const fromCompletions = await complete({ prompt: ids, max_tokens: 1, prompt_logprobs: 2 });
    expect(fromChat.json.prompt_logprobs).toEqual(fromCompletions.json.choices[0].prompt_logprobs);
  });
});

describe("refusals", () => {
  const refused = async (answer: Promise<{ status: number; json: { error: { param: string } } }>) => {
    const { status, json } = await answer;
    expect(status).toBe(400);
    return json.error.param;
  };
  it("name the field", async () => {
    expect(await refused(complete({ prompt: PROMPT, max_tokens: 0 }))).toBe("max_tokens");
    expect(await refused(complete({ prompt: PROMPT, max_tokens: -1, echo: true }))).toBe("max_tokens");
    expect(await refused(complete({ prompt: PROMPT, echo: true, logprobs: 21 }))).toBe("logprobs");
    expect(await refused(complete({ prompt: PROMPT, prompt_logprobs: 21 }))).toBe("prompt_logprobs");
    const messages = [{ role: "user", content: "Hi" }];
    expect(await refused(chat({ messages, echo: true }))).toBe("echo");
    expect(await refused(chat({ messages, prompt_logprobs: 1, stream: true }))).toBe("prompt_logprobs");
    expect(await refused(chat({ messages, prompt_logprobs: 21 }))).toBe("prompt_logprobs");
    expect((await chat({ messages, echo: false, max_tokens: 1 })).status).toBe(200);
  });
});
