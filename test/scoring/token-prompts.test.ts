import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { get, post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/** Token-id prompts on /v1/completions, and the tokenizer endpoints lm-evaluation-harness probes. */

const dir = makeRandomTestModel();
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, maxSequences: 8 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const complete = (body: Record<string, unknown>) =>
  post(server, "/v1/completions", { model: server.config.modelName, temperature: 0, max_tokens: 6, ...body });

describe("token-id prompts", () => {
  it("continue exactly as the text they tokenize from, in all four shapes", async () => {
    const text = "Once upon a time";
    const tokenized = await post(server, "/tokenize", { prompt: text });
    const ids: number[] = tokenized.json.tokens;
    expect(ids[0]).toBe(0); // the tokenizer's bos, which a token-id prompt must carry itself

    const fromText = await complete({ prompt: text });
    const fromIds = await complete({ prompt: ids });
    const fromIdArrays = await complete({ prompt: [ids, ids.slice(1)] });
    const fromTexts = await complete({ prompt: [text, text] });
    expect(fromIds.status).toBe(200);
    expect(fromIds.json.choices[0].text).toBe(fromText.json.choices[0].text);
    expect(fromIds.json.usage.prompt_tokens).toBe(ids.length);
    expect(fromIdArrays.json.choices.map((c: { index: number }) => c.index)).toEqual([0, 1]);
    expect(fromIdArrays.json.choices[0].text).toBe(fromText.json.choices[0].text);
    expect(fromIdArrays.json.usage.prompt_tokens).toBe(2 * ids.length - 1);
    expect(fromTexts.json.choices[1].text).toBe(fromText.json.choices[0].text);
  });

  it("get no bos added: the ids without bos continue differently from the text", async () => {
    const ids: number[] = (await post(server, "/tokenize", { prompt: "abc", add_special_tokens: false })).json
      .tokens;
    expect(ids).not.toContain(0);
    const answer = await complete({ prompt: ids, echo: true, max_tokens: 1 });
    expect(answer.json.usage.prompt_tokens).toBe(ids.length);
    expect(answer.json.choices[0].text.startsWith("abc")).toBe(true);
  });

  it("refuse ids outside the vocabulary, naming the element", async () => {
    const bad = await complete({
      prompt: [
        [5, 6, 7],
        [5, 6, 7, 8, 9, 10, 11, 1000],
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({
      param: "prompt[1][7]",
      code: "invalid_value",
      type: "invalid_request_error",
    });
    expect(bad.json.error.message).toContain("1000");
    const negative = await complete({ prompt: [5, -1] });
    expect(negative.status).toBe(400);
    expect(negative.json.error.param).toBe("prompt[1]");
  });

  it("refuse empty token arrays, mixed arrays and non-integers", async () => {
    const empty = await complete({ prompt: [[5], []] });
    expect(empty.status).toBe(400);
    expect(empty.json.error.param).toBe("prompt[1]");
    const mixed = await complete({ prompt: ["text", 5] });
    expect(mixed.status).toBe(400);
    expect(mixed.json.error.param).toBe("prompt[1]");
    const fraction = await complete({ prompt: [5, 6.5] });
    expect(fraction.status).toBe(400);
    const none = await complete({ prompt: [] });
    expect(none.status).toBe(400);
  });
});

describe("GET /tokenizer_info and /tokenize, as lm-evaluation-harness probes them", () => {
  it("answers vLLM's fields, and its eos token tokenizes to the model's eos id", async () => {
    const info = await get(server, "/tokenizer_info");
    expect(info.status).toBe(200);
    expect(info.json).toMatchObject({ bos_token: expect.any(String), eos_token: expect.any(String) });
    expect(info.json.vocab_size).toBe(1000);
    expect(info.json.model_max_length).toBe(server.config.maxPromptTokens);
    expect(info.json.chat_template).toContain("messages");
    // lm-eval's RemoteTokenizer.eos_token_id is encode(eos_token)[0], without special tokens.
    const eos = await post(server, "/tokenize", { prompt: info.json.eos_token, add_special_tokens: false });
    expect(eos.json.tokens).toEqual([1]);
    const bos = await post(server, "/tokenize", { prompt: info.json.bos_token, add_special_tokens: false });
    expect(bos.json.tokens).toEqual([0]);
    const probe = await post(server, "/tokenize", { prompt: "test", add_special_tokens: false });
    expect(Array.isArray(probe.json.tokens)).toBe(true);
    expect(probe.json.tokens).not.toContain(0);
  });
});
