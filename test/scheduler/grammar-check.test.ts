import { afterAll, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR } from "../../src/model/default-model.js";
import { loadTokenizerFiles } from "../../src/model/tokenizer-files.js";
import { GrammarCheck } from "../../src/scheduler/grammar-check.js";

/** The compile-time limit: a constraint too slow to compile is refused, and checking goes on. */

const check = GrammarCheck.start(loadTokenizerFiles(DEFAULT_MODEL_DIR).tokenizer.vocabulary, 8192, 0.2);
afterAll(() => check.close());

const wide = {
  type: "object",
  properties: Object.fromEntries(
    Array.from({ length: 400 }, (_, i) => [`p${i}`, { type: "string", maxLength: 20 + (i % 7) }]),
  ),
  required: Array.from({ length: 400 }, (_, i) => `p${i}`),
};

it("refuses a constraint whose compile passes the limit, then checks the next one as usual", async () => {
  await expect(check.check({ type: "json_schema", schema: wide })).rejects.toThrow(
    /takes longer than this server's limit of 0.2 s/,
  );
  await check.check({ type: "choice", choices: ["yes", "no"] });
  const started = performance.now();
  await check.check({ type: "choice", choices: ["yes", "no"] });
  expect(performance.now() - started).toBeLessThan(5);
});
