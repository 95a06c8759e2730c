import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR } from "../../src/model/default-model.js";
import { loadTokenizerFiles } from "../../src/model/tokenizer-files.js";
import { OFF_THREAD_MIN_CHARS, PromptTokenizer } from "../../src/scheduler/prompt-tokenizer.js";

const { tokenizer } = loadTokenizerFiles(DEFAULT_MODEL_DIR);
const prompts = PromptTokenizer.start(DEFAULT_MODEL_DIR, tokenizer);
afterAll(() => prompts.close());

describe("prompt tokenizer", () => {
  it("gives the tokenizer's own ids, on either side of the off-thread threshold", async () => {
    const story = "Once upon a time, in a wood by the sea, an old rabbit — “Hush!” — lived 🐇. ";
    for (const length of [1, 100, OFF_THREAD_MIN_CHARS - 1, OFF_THREAD_MIN_CHARS, 50_000]) {
      const text = story.repeat(Math.ceil(length / story.length)).slice(0, length);
      for (const addSpecialTokens of [true, false]) {
        expect(await prompts.encode(text, addSpecialTokens)).toEqual(
          tokenizer.encode(text, { addSpecialTokens }),
        );
      }
    }
  });

  it("keeps concurrent requests apart", async () => {
    const texts = Array.from({ length: 8 }, (_, i) => `${i} `.repeat(OFF_THREAD_MIN_CHARS));
    const results = await Promise.all(texts.map((text) => prompts.encode(text)));
    expect(results).toEqual(texts.map((text) => tokenizer.encode(text)));
  });
});

describe("the tokenizer thread", () => {
  it("starts with the first long prompt and ends once none came for its idle time", async () => {
    const idle = PromptTokenizer.start(DEFAULT_MODEL_DIR, tokenizer, 300);
    try {
      const text = "A rabbit. ".repeat(OFF_THREAD_MIN_CHARS / 10 + 1);
      expect(idle.threadRunning).toBe(false);
      await idle.encode("short, on the main thread");
      expect(idle.threadRunning).toBe(false);
      expect(await idle.encode(text)).toEqual(tokenizer.encode(text));
      expect(idle.threadRunning).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(idle.threadRunning).toBe(false);
      expect(await idle.encode(text, false)).toEqual(tokenizer.encode(text, { addSpecialTokens: false }));
    } finally {
      await idle.close();
    }
  });
});
