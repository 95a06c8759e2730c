import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { DEFAULT_MODEL_DIR } from "../../src/model/default-model.js";
import { runCli } from "../cli/run-cli.js";
import { post } from "../helpers/http.js";
import { BYTELEVEL_TOKENIZER, makeRandomTestModel } from "../helpers/random-model.js";

/**
 * Prompt scoring is exact: the logprobs of an echoed, max_tokens 0 prompt sum to `trine eval`'s
 * log-likelihood of the same tokens, with and without a scored prefix from the cache, and the
 * alternatives are the top of a full log-softmax of `trine logits`' rows.
 */

const FIXTURES = join(import.meta.dirname, "..", "fixtures");
const PASSAGE = readFileSync(join(FIXTURES, "heldout-peter-rabbit.txt"), "utf8").slice(0, 700);
/** Per scored token: the bound on the difference from trine eval. */
const TOLERANCE_NATS_PER_TOKEN = 1e-4;

/** A golden checkpoint (latent weights, as the original saved them) with the byte-level test tokenizer. */
function goldenWithTokenizer(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "trine-golden-"));
  for (const file of ["config.json", "model.safetensors"])
    copyFileSync(join(FIXTURES, "golden", name, file), join(dir, file));
  copyFileSync(BYTELEVEL_TOKENIZER, join(dir, "tokenizer.json"));
  return dir;
}

const made: string[] = [];
const servers: InProcessServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

async function serve(
  modelDir: string,
  settings: { prefixCacheEntries?: number } = {},
): Promise<InProcessServer> {
  const server = await startInProcess({ modelDir, maxSequences: 4, ...settings });
  servers.push(server);
  return server;
}

const score = (server: InProcessServer, prompt: unknown, logprobs = 0) =>
  post(server, "/v1/completions", {
    model: server.config.modelName,
    prompt,
    echo: true,
    max_tokens: 0,
    logprobs,
  });

const MODELS: [string, () => string][] = [
  ["the shipped model", () => DEFAULT_MODEL_DIR],
  ["golden checkpoint dev-small-fp16", () => goldenWithTokenizer("dev-small-fp16")],
  ["a random test model", () => makeRandomTestModel({ hiddenSize: 96, numLayers: 3 })],
];

describe.each(MODELS)("scoring a held-out passage with %s", (_name, makeDir) => {
  it("sums to trine eval's log-likelihood, scored from scratch and from a scored cached prefix", async () => {
    const dir = makeDir();
    if (dir !== DEFAULT_MODEL_DIR) made.push(dir);
    const server = await serve(dir);
    const ids: number[] = (await post(server, "/tokenize", { prompt: PASSAGE })).json.tokens;

    // A scored prefix in the cache (scored with 0 alternatives), then the whole passage from it...
    const half = ids.slice(0, Math.floor(ids.length / 2));
    await score(server, half);
    const fromCache = await score(server, ids);
    expect(fromCache.json.usage.prompt_tokens_details.cached_tokens).toBe(half.length - 1);
    // ...and from scratch: a prefix scored with fewer alternatives than asked for cannot serve.
    const answer = await score(server, ids, 1);
    expect(answer.status).toBe(200);
    expect(answer.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const [choice] = answer.json.choices;
    expect(choice.finish_reason).toBe("length");
    expect(choice.text).toBe(
      server.app.trine.scheduler.model().tokenizer.decode(ids, { skipSpecialTokens: false }),
    );
    expect(answer.json.usage.completion_tokens).toBe(0);
    const { token_logprobs: tokenLogprobs } = choice.logprobs;
    expect(tokenLogprobs).toHaveLength(ids.length);
    expect(tokenLogprobs[0]).toBeNull();
    expect(fromCache.json.choices[0].logprobs.token_logprobs).toEqual(tokenLogprobs);
    const served = tokenLogprobs.slice(1).reduce((sum: number, value: number) => sum + value, 0);

    // trine eval scores the text's tokens after its bos in one window: the same predictions.
    const textFile = join(mkdtempSync(join(tmpdir(), "trine-passage-")), "passage.txt");
    made.push(join(textFile, ".."));
    writeFileSync(textFile, PASSAGE);
    const evaluated = runCli(["eval", "--model", dir, "--text", textFile, "--window", "4096", "--json"]);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    const { tokens, mean_nll: meanNll } = JSON.parse(evaluated.stdout);
    expect(tokens).toBe(ids.length - 1);
    expect(Math.abs(served + meanNll * tokens) / tokens).toBeLessThan(TOLERANCE_NATS_PER_TOKEN);

    // The identical prompt again starts from the state before its last token, its scores cached.
    const repeated = await score(server, ids);
    expect(repeated.json.usage.prompt_tokens_details.cached_tokens).toBe(ids.length - 1);
    expect(repeated.json.choices[0].logprobs.token_logprobs).toEqual(tokenLogprobs);
  });
});

describe("alternatives", () => {
  it("are the top of a full log-softmax of trine logits, in order", async () => {
    const dir = goldenWithTokenizer("dev-tiny-fp32");
    made.push(dir);
    const server = await serve(dir, { prefixCacheEntries: 0 });
    const ids = [0, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100];
    const answer = await post(server, "/v1/completions", {
      model: server.config.modelName,
      prompt: ids,
      echo: true,
      max_tokens: 0,
      logprobs: 5,
      prompt_logprobs: 5,
    });
    expect(answer.status).toBe(200);
    const [choice] = answer.json.choices;
    const logits = runCli(["logits", "--model", dir, "--ids", ids.join(",")]);
    expect(logits.status, logits.stderr).toBe(0);
    const rows: number[][] = JSON.parse(logits.stdout);
    for (let position = 1; position < ids.length; position++) {
      const row = rows[position - 1];
      const max = Math.max(...row);
      const logNormaliser = max + Math.log(row.reduce((sum, logit) => sum + Math.exp(logit - max), 0));
      const ranked = row
        .map((logit, token) => ({ token, logprob: logit - logNormaliser }))
        .sort((a, b) => b.logprob - a.logprob || a.token - b.token);
      // vLLM's prompt_logprobs, keyed by id: the five most likely with ranks 1..5, and the prompt token.
      const listed = choice.prompt_logprobs[position];
      for (const [rank, { token, logprob }] of ranked.slice(0, 5).entries()) {
        expect(listed[token].rank).toBe(token === ids[position] ? listed[token].rank : rank + 1);
        expect(listed[token].logprob).toBeCloseTo(logprob, 4);
      }
      const actual = ranked.findIndex((entry) => entry.token === ids[position]);
      expect(listed[ids[position]].rank).toBe(actual + 1);
      expect(choice.logprobs.token_logprobs[position]).toBeCloseTo(ranked[actual].logprob, 4);
      // Keyed by text: two ids that decode alike share a key, the likelier one's value.
      expect(Math.max(...Object.values(choice.logprobs.top_logprobs[position] as number[]))).toBeCloseTo(
        ranked[0].logprob,
        4,
      );
    }
    expect(choice.prompt_logprobs[0]).toBeNull();
    expect(choice.logprobs.top_logprobs[0]).toBeNull();
  });
});
