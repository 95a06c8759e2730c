import { rmSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/**
 * The official OpenAI client against a live server on a socket: what a user's code sees.
 */

const dir = makeRandomTestModel();
let server: InProcessServer;
let client: OpenAI;
let model: string;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, workers: 1, maxSequences: 8 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0 });
  model = server.config.modelName;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Prompt tokens as the server counts them (bos included). */
async function promptTokens(prompt: string): Promise<number> {
  return (await post(server, "/tokenize", { prompt })).json.count;
}

describe("completions with the openai client", () => {
  it("answers a completion with text, a finish reason and usage", async () => {
    const completion = await client.completions.create({
      model,
      prompt: "Once upon a time",
      max_tokens: 12,
      seed: 1,
    });
    expect(completion.object).toBe("text_completion");
    expect(completion.id).toMatch(/^cmpl-/);
    expect(completion.model).toBe(model);
    expect(completion.choices).toHaveLength(1);
    const [choice] = completion.choices;
    expect(["stop", "length"]).toContain(choice.finish_reason);
    const prompt = await promptTokens("Once upon a time");
    expect(completion.usage).toMatchObject({
      prompt_tokens: prompt,
      total_tokens: prompt + completion.usage!.completion_tokens,
    });
    if (choice.finish_reason === "length") expect(completion.usage!.completion_tokens).toBe(12);
  });

  it("streams the same text as the answer in one piece, with usage last when asked", async () => {
    const request = { model, prompt: "The rabbit", max_tokens: 20, seed: 2 };
    const whole = await client.completions.create(request);
    const stream = await client.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    const finishes: (string | null)[] = [];
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const usageChunk = chunks.pop()!;
    for (const chunk of chunks) {
      expect(chunk.object).toBe("text_completion");
      expect(chunk.usage).toBeNull();
      text += chunk.choices[0].text;
      finishes.push(chunk.choices[0].finish_reason);
    }
    expect(text).toBe(whole.choices[0].text);
    expect(finishes.slice(0, -1).every((f) => f === null)).toBe(true);
    expect(finishes.at(-1)).toBe(whole.choices[0].finish_reason);
    expect(usageChunk.choices).toEqual([]);
    // The streamed request repeats the first, so its prompt state now comes from the cache.
    expect(usageChunk.usage).toEqual({
      ...whole.usage,
      prompt_tokens_details: { cached_tokens: whole.usage!.prompt_tokens - 1 },
    });
  });

  it("gives n choices, choice i sampled with seed + i", async () => {
    const many = await client.completions.create({
      model,
      prompt: "Down, down",
      max_tokens: 10,
      n: 3,
      seed: 40,
    });
    expect(many.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      const single = await client.completions.create({
        model,
        prompt: "Down, down",
        max_tokens: 10,
        seed: 40 + i,
      });
      expect(many.choices[i].text).toBe(single.choices[0].text);
    }
    expect(many.usage!.completion_tokens).toBeGreaterThan(10);
  });

  it("treats each prompt of an array as its own group of choices, prompt-major", async () => {
    const prompts = ["Alice", "The Queen"];
    const batch = await client.completions.create({ model, prompt: prompts, max_tokens: 8, n: 2, seed: 5 });
    expect(batch.choices).toHaveLength(4);
    for (let p = 0; p < 2; p++) {
      const single = await client.completions.create({
        model,
        prompt: prompts[p],
        max_tokens: 8,
        n: 2,
        seed: 5,
      });
      expect(batch.choices.slice(2 * p, 2 * p + 2).map((c) => c.text)).toEqual(
        single.choices.map((c) => c.text),
      );
    }
    expect(batch.usage!.prompt_tokens).toBe(
      (await promptTokens(prompts[0])) + (await promptTokens(prompts[1])),
    );
  });

  it("returns logprobs of each token with the asked number of alternatives", async () => {
    const completion = await client.completions.create({
      model,
      prompt: "Why?",
      max_tokens: 8,
      temperature: 0,
      logprobs: 3,
    });
    const logprobs = completion.choices[0].logprobs!;
    expect(logprobs.tokens!.join("")).toBe(completion.choices[0].text);
    expect(logprobs.token_logprobs).toHaveLength(logprobs.tokens!.length);
    for (let i = 0; i < logprobs.tokens!.length; i++) {
      const top = Object.entries(logprobs.top_logprobs![i]);
      expect(top.length).toBeGreaterThanOrEqual(1);
      expect(top.length).toBeLessThanOrEqual(3);
      // Greedy decoding picks the most likely token.
      expect(logprobs.token_logprobs![i]).toBeCloseTo(Math.max(...top.map(([, lp]) => lp)), 5);
      expect(logprobs.token_logprobs![i]).toBeLessThanOrEqual(0);
    }
    expect(logprobs.text_offset![0]).toBe(0);
  });

  it("stops before a stop string and says so", async () => {
    const free = await client.completions.create({ model, prompt: "Once", max_tokens: 40, seed: 9 });
    const text = free.choices[0].text;
    expect(text.length).toBeGreaterThan(12);
    const stop = text.slice(6, 10);
    const stopped = await client.completions.create({
      model,
      prompt: "Once",
      max_tokens: 40,
      seed: 9,
      stop: [stop],
    });
    expect(stopped.choices[0].finish_reason).toBe("stop");
    expect(stopped.choices[0].text).toBe(text.slice(0, text.indexOf(stop)));
  });

  it("echoes the prompt before the completion", async () => {
    const plain = await client.completions.create({ model, prompt: "Curiouser", max_tokens: 6, seed: 3 });
    const echoed = await client.completions.create({
      model,
      prompt: "Curiouser",
      max_tokens: 6,
      seed: 3,
      echo: true,
    });
    expect(echoed.choices[0].text).toBe(`Curiouser${plain.choices[0].text}`);
  });
});

describe("chat completions with the openai client", () => {
  const messages = [
    { role: "system" as const, content: "You tell stories." },
    { role: "user" as const, content: "Tell me about a rabbit." },
  ];

  it("answers with an assistant message and usage", async () => {
    const chat = await client.chat.completions.create({
      model,
      messages,
      max_completion_tokens: 10,
      seed: 4,
    });
    expect(chat.object).toBe("chat.completion");
    expect(chat.id).toMatch(/^chatcmpl-/);
    expect(chat.choices[0].message.role).toBe("assistant");
    expect(typeof chat.choices[0].message.content).toBe("string");
    expect(chat.usage!.total_tokens).toBe(chat.usage!.prompt_tokens + chat.usage!.completion_tokens);
  });

  it("streams deltas that start with the role and add up to the whole answer", async () => {
    const whole = await client.chat.completions.create({ model, messages, max_tokens: 16, seed: 6, n: 2 });
    const stream = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 16,
      seed: 6,
      n: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts = ["", ""];
    const firstDelta: Record<number, unknown> = {};
    const finish: Record<number, string | null> = {};
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      if (chunk.choices.length === 0) usage = chunk.usage;
      for (const choice of chunk.choices) {
        firstDelta[choice.index] ??= choice.delta;
        expect(finish[choice.index] ?? null).toBeNull();
        texts[choice.index] += choice.delta.content ?? "";
        finish[choice.index] = choice.finish_reason;
      }
    }
    expect(firstDelta).toEqual({
      0: { role: "assistant", content: "" },
      1: { role: "assistant", content: "" },
    });
    expect(texts).toEqual(whole.choices.map((c) => c.message.content));
    expect(finish).toEqual({ 0: whole.choices[0].finish_reason, 1: whole.choices[1].finish_reason });
    expect(usage?.completion_tokens).toBe(whole.usage!.completion_tokens);
  });

  it("returns chat logprobs with bytes and alternatives", async () => {
    const chat = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 6,
      logprobs: true,
      top_logprobs: 2,
      seed: 8,
    });
    const content = chat.choices[0].logprobs!.content!;
    expect(content.map((c) => c.token).join("")).toBe(chat.choices[0].message.content);
    for (const entry of content) {
      expect(entry.top_logprobs.length).toBe(2);
      expect(Buffer.from(entry.bytes!).toString("utf8")).toBe(entry.token);
    }
  });

  it("starts a conversation that repeats a system prompt from its cached state", async () => {
    const request = { model, messages, max_tokens: 12, seed: 11 };
    const first = await client.chat.completions.create(request);
    const again = await client.chat.completions.create(request);
    expect(again.choices[0].message.content).toBe(first.choices[0].message.content);
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBe(again.usage!.prompt_tokens - 1);

    const otherQuestion = await client.chat.completions.create({
      ...request,
      messages: [messages[0], { role: "user", content: "And a turtle?" }],
    });
    const systemPrompt = await post(server, "/tokenize", {
      messages: [messages[0]],
      add_generation_prompt: false,
    });
    const systemTokens = systemPrompt.json.count;
    expect(otherQuestion.usage!.prompt_tokens_details!.cached_tokens).toBe(systemTokens);
    expect(await server.metric("trine_prefix_cache_hits_total")).toBeGreaterThanOrEqual(2);
  });
});

describe("a client that leaves", () => {
  it("cancels the sequence, brings the running gauge back to 0 and frees the slot", async () => {
    const single = await startInProcess({
      modelDir: dir,
      workers: 1,
      maxSequences: 1,
      queueLength: 0,
      maxOutputTokens: 1_000_000,
    });
    try {
      const oneSlot = new OpenAI({ baseURL: `${single.url}/v1`, apiKey: "x", maxRetries: 0 });
      // Still generating when the client leaves: the tiny random model writes 500 tokens in tens of
      // milliseconds and may sample its EOS (id 1) early, either of which ended the run first.
      const stream = await oneSlot.completions.create({
        model: single.config.modelName,
        prompt: "Once upon a time",
        max_tokens: 1_000_000,
        logit_bias: { "1": -100 },
        stream: true,
      });
      let chunks = 0;
      for await (const _ of stream) {
        if (++chunks === 3) break;
      }
      expect(chunks).toBe(3);
      const until = Date.now() + 5000;
      while ((await single.metric("trine_requests_running")) !== 0 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await single.metric("trine_requests_running")).toBe(0);
      expect(await single.metric("trine_sequence_slots_used")).toBe(0);
      expect(await single.metric("trine_requests_total", { finish_reason: "cancelled" })).toBe(1);
      // The only slot is free again: with no queue, a busy slot would be a 429.
      const next = await oneSlot.completions.create({
        model: single.config.modelName,
        prompt: "Hi",
        max_tokens: 3,
      });
      expect(next.choices).toHaveLength(1);
    } finally {
      await single.close();
    }
  });

  it("gives up its place in the queue when it leaves while waiting", async () => {
    const single = await startInProcess({
      modelDir: dir,
      workers: 1,
      maxSequences: 1,
      queueLength: 4,
      maxOutputTokens: 1_000_000,
    });
    try {
      const oneSlot = new OpenAI({ baseURL: `${single.url}/v1`, apiKey: "x", maxRetries: 0 });
      const model = single.config.modelName;
      const running = new AbortController();
      const stream = await oneSlot.completions.create(
        { model, prompt: "Once", max_tokens: 1_000_000, logit_bias: { "1": -100 }, stream: true },
        { signal: running.signal },
      );
      const waiting = new AbortController();
      const queued = oneSlot.completions.create(
        { model, prompt: "Hi", max_tokens: 3 },
        { signal: waiting.signal },
      );
      while ((await single.metric("trine_requests_waiting")) === 0)
        await new Promise((r) => setTimeout(r, 5));
      waiting.abort();
      await expect(queued).rejects.toThrow();
      const until = Date.now() + 5000;
      while ((await single.metric("trine_requests_waiting")) !== 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(await single.metric("trine_requests_waiting")).toBe(0);
      running.abort();
      for await (const _ of stream); // ends quietly once aborted
    } finally {
      await single.close();
    }
  });
});
