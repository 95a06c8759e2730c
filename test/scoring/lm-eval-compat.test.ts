import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { chooseKernel } from "../../src/cli/kernel-choice.js";
import type { EngineKernel } from "../../src/engine/kernels/kernel.js";
import { scoreTokens } from "../../src/generation/perplexity.js";
import { type LoadedModel, loadModel } from "../../src/model/loaded-model.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/**
 * lm-evaluation-harness 0.4.x's `local-completions` model against Trine, request for request:
 * `check_remote_tokenizer_support` and `RemoteTokenizer` (lm_eval/utils.py), `_encode_pair` and
 * `loglikelihood` (lm_eval/api/model.py), `batch_loglikelihood_requests`, `_create_payload` and
 * `parse_logprobs` / `parse_generations` (lm_eval/models/api_models.py, openai_completions.py),
 * ported line by line below. The log-likelihoods it would compute are checked against the
 * engine's own scoring of the same ids (`trine eval`'s scoreTokens).
 */

const dir = makeRandomTestModel({ hiddenSize: 96, numLayers: 3 });
let server: InProcessServer;
let loaded: LoadedModel;
let kernel: EngineKernel;
let base: string;

beforeAll(async () => {
  server = await startInProcess({ modelDir: dir, maxSequences: 16 });
  base = server.url;
  loaded = loadModel(dir);
  kernel = await chooseKernel();
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** lm-eval's requests session: JSON in, JSON out, raise_for_status. */
// biome-ignore lint/suspicious/noExplicitAny: the harness reads answers as loose JSON too; the assertions check them.
async function call(method: "GET" | "POST", path: string, payload?: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** check_remote_tokenizer_support: GET /tokenizer_info has eos_token, POST /tokenize answers tokens. */
async function checkRemoteTokenizerSupport(): Promise<boolean> {
  const info = await call("GET", "/tokenizer_info");
  if (typeof info !== "object" || info === null || !("eos_token" in info)) return false;
  const probe = await call("POST", "/tokenize", { prompt: "test", add_special_tokens: false });
  return Array.isArray(probe.tokens);
}

/** RemoteTokenizer. */
const remote = {
  info: undefined as Record<string, unknown> | undefined,
  async tokenizerInfo() {
    this.info ??= await call("GET", "/tokenizer_info");
    return this.info!;
  },
  async encode(text: string): Promise<number[]> {
    return (await call("POST", "/tokenize", { prompt: text, add_special_tokens: false })).tokens;
  },
  async decode(tokens: number[]): Promise<string> {
    return (await call("POST", "/detokenize", { tokens })).prompt;
  },
  async tokenId(name: "eos_token" | "bos_token"): Promise<number | null> {
    const text = (await this.tokenizerInfo())[name];
    return typeof text === "string" ? (await this.encode(text))[0] : null;
  },
};

/** TemplateAPI.prefix_token_id with the remote backend: bos, else eos. */
async function prefixTokenId(): Promise<number> {
  return (await remote.tokenId("bos_token")) ?? (await remote.tokenId("eos_token"))!;
}

/** TemplateLM.loglikelihood + _encode_pair (causal): trailing spaces of the context move to the continuation. */
async function encodePair(context: string, continuation: string): Promise<[number[], number[]]> {
  if (context === "") return [[await prefixTokenId()], await remote.encode(continuation)];
  const spaces = context.length - context.trimEnd().length;
  if (spaces > 0) {
    continuation = context.slice(-spaces) + continuation;
    context = context.slice(0, -spaces);
  }
  const whole = await remote.encode(context + continuation);
  const contextEnc = await remote.encode(context);
  return [contextEnc, whole.slice(contextEnc.length)];
}

const MAX_LENGTH = 2048 - 1; // TemplateAPI: max_length - 1, one token kept for generation

/** batch_loglikelihood_requests + LocalCompletionsAPI._create_payload(generate=False). */
function loglikelihoodPayload(pairs: [number[], number[]][]) {
  const inputs: number[][] = [];
  const ctxlens: number[] = [];
  for (const [contextEnc, continuationEnc] of pairs) {
    const whole = [...contextEnc, ...continuationEnc];
    inputs.push(whole.slice(-MAX_LENGTH));
    ctxlens.push(contextEnc.length - Math.max(0, whole.length - MAX_LENGTH));
  }
  const payload = {
    model: server.config.modelName,
    prompt: inputs,
    temperature: 0,
    max_tokens: 1,
    logprobs: 1,
    seed: 1234,
    echo: true,
  };
  return { payload, ctxlens };
}

/** LocalCompletionsAPI.parse_logprobs. */
function parseLogprobs(
  output: {
    choices: {
      index: number;
      logprobs: { token_logprobs: number[]; top_logprobs: Record<string, number>[] };
    }[];
  },
  ctxlens: number[],
): [number, boolean][] {
  const choices = [...output.choices].sort((a, b) => a.index - b.index);
  return choices.map((choice, k) => {
    const ctxlen = ctxlens[k];
    expect(ctxlen).toBeGreaterThan(0);
    const tokenLogprobs = choice.logprobs.token_logprobs.slice(ctxlen, -1);
    const topLogprobs = choice.logprobs.top_logprobs.slice(ctxlen, -1);
    const logprob = tokenLogprobs.reduce((sum, value) => sum + value, 0);
    const isGreedy = tokenLogprobs.every((token, i) => token === Math.max(...Object.values(topLogprobs[i])));
    return [logprob, isGreedy];
  });
}

/** log p(continuation | context) as the engine scores the ids itself (trine eval's scoring). */
function engineLoglikelihood(contextEnc: number[], continuationEnc: number[]): number {
  const nll = (ids: number[]) => scoreTokens(loaded.model, ids, undefined, kernel, 4096).totalNll;
  return -(nll([...contextEnc, ...continuationEnc]) - nll(contextEnc));
}

describe("lm-evaluation-harness local-completions", () => {
  it("detects the remote tokenizer (tokenizer_backend=auto) and reads its special tokens", async () => {
    expect(await checkRemoteTokenizerSupport()).toBe(true);
    expect(await remote.tokenId("eos_token")).toBe(loaded.tokenizer.eosTokenId);
    expect(await prefixTokenId()).toBe(loaded.tokenizer.bosTokenId);
    const ids = await remote.encode("The cat sat");
    expect(await remote.decode(ids)).toBe("The cat sat");
  });

  it("scores a batch of multiple-choice requests as the engine does, and knows the greedy one", async () => {
    const context = "Question: where did the cat sit?\nAnswer:";
    // The greedy continuation, as generate_until would ask for it, is one of the choices.
    const contextEnc = await encodePair(context, " x").then(([enc]) => enc);
    const greedy = await call("POST", "/v1/completions", {
      model: server.config.modelName,
      prompt: [contextEnc],
      max_tokens: 3,
      temperature: 0,
      seed: 1234,
      logit_bias: { [String(loaded.tokenizer.eosTokenId)]: -100 },
    });
    const greedyText: string = greedy.choices[0].text;
    const requests: [string, string][] = [
      [context, " on the mat"],
      [context, " in the hat"],
      [`${context} `, "nowhere"],
      [context, greedyText],
      ["", "An empty context uses the prefix token"],
    ];
    const pairs = await Promise.all(requests.map(([c, x]) => encodePair(c, x)));
    const { payload, ctxlens } = loglikelihoodPayload(pairs);
    const output = await call("POST", "/v1/completions", payload);
    const results = parseLogprobs(output, ctxlens);
    for (const [k, [logprob]] of results.entries())
      expect(logprob).toBeCloseTo(engineLoglikelihood(...pairs[k]), 4);
    expect(results[3][1]).toBe(true);
    expect(results.slice(0, 3).some(([, isGreedy]) => !isGreedy)).toBe(true);
  });

  it("scores a document for perplexity (loglikelihood_rolling: one window after the prefix token)", async () => {
    const document = "Peter Rabbit ran under the gate and into the garden.";
    const tokens = await remote.encode(document);
    const { payload, ctxlens } = loglikelihoodPayload([[[await prefixTokenId()], tokens]]);
    const [[logprob]] = parseLogprobs(await call("POST", "/v1/completions", payload), ctxlens);
    const evalNll = scoreTokens(loaded.model, tokens, loaded.tokenizer.bosTokenId, kernel, 4096).totalNll;
    expect(logprob).toBeCloseTo(-evalNll, 4);
  });

  it("answers generate_until requests: token-id prompts, the task's stops and the eos string", async () => {
    const info = await remote.tokenizerInfo();
    const contexts = ["Once upon a time", "The end of the story was"];
    const encodings = await Promise.all(contexts.map((context) => remote.encode(context)));
    // _create_payload(generate=True): until + eos via handle_stop_sequences, max_gen_toks, seed.
    const payload = {
      prompt: encodings,
      model: server.config.modelName,
      max_tokens: 16,
      temperature: 0,
      stop: ["\n\n", info.eos_token],
      seed: 1234,
    };
    const output = await call("POST", "/v1/completions", payload);
    // parse_generations: choices by index.
    const generations: string[] = [];
    for (const choice of output.choices) generations[choice.index] = choice.text;
    expect(generations).toHaveLength(2);
    for (const [k, encoding] of encodings.entries()) {
      const alone = await call("POST", "/v1/completions", { ...payload, prompt: encoding });
      expect(generations[k]).toBe(alone.choices[0].text);
      expect(generations[k]).not.toContain("\n\n");
    }
  });
});
