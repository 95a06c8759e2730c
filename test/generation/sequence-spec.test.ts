import { describe, expect, it } from "vitest";
import type { SamplingParams } from "../../src/engine/sampling/sampling-params.js";
import { choicesOf, SequenceSpecError, sequenceSpec } from "../../src/generation/sequence-spec.js";

const VOCAB_SIZE = 32000;
const MODEL = { vocabSize: VOCAB_SIZE, eosTokenIds: [2], defaults: { temperature: 0.7, top_p: 0.9 } };

/** A request's fields as one object, the way the tables below read best. */
type Fields = SamplingParams & {
  logprobs?: number | null;
  stop_token_ids?: number[];
  stop?: string[] | null;
  max_tokens?: number | null;
};

function build(fields: Fields, maxTokensCap?: number) {
  const { logprobs, stop_token_ids, stop, max_tokens, ...sampling } = fields;
  return sequenceSpec(
    {
      promptIds: [1, 5, 7],
      sampling,
      logprobs,
      stopTokenIds: stop_token_ids,
      stop: stop ?? [],
      maxTokens: max_tokens,
    },
    MODEL,
    { maxTokens: 16, maxTokensCap },
  );
}

/** The first problem with `fields`, or null when a spec can be built from them. */
function validateSamplingParams(fields: Fields, _vocabSize: number, maxTokensCap?: number) {
  try {
    build(fields, maxTokensCap);
    return null;
  } catch (error) {
    if (!(error instanceof SequenceSpecError)) throw error;
    return { param: error.param, message: error.problem };
  }
}

describe("sequenceSpec: one validation for the server and the CLI", () => {
  it("accepts the defaults, nulls, and every range's edges", () => {
    expect(validateSamplingParams({}, VOCAB_SIZE)).toBeNull();
    expect(
      validateSamplingParams({ temperature: null, top_p: null, logit_bias: null, stop: null }, VOCAB_SIZE),
    ).toBeNull();
    const edges: Fields = {
      temperature: 2,
      top_k: 1,
      top_p: 1,
      min_p: 1,
      repetition_penalty: 0.01,
      presence_penalty: -2,
      frequency_penalty: 2,
      logit_bias: { "0": -100, "31999": 100 },
      seed: -9007199254740991,
      logprobs: 20,
      stop_token_ids: [0, 31999],
      stop: ["\n\n", "x".repeat(256)],
      max_tokens: 1,
    };
    expect(validateSamplingParams(edges, VOCAB_SIZE)).toBeNull();
    expect(
      validateSamplingParams({ temperature: 0, top_k: 0, min_p: 0, logprobs: 0 }, VOCAB_SIZE),
    ).toBeNull();
  });

  it.each<[Fields, string]>([
    [{ temperature: -0.1 }, "temperature"],
    [{ temperature: 2.5 }, "temperature"],
    [{ temperature: Number.NaN }, "temperature"],
    [{ top_k: -1 }, "top_k"],
    [{ top_k: 2.5 }, "top_k"],
    [{ top_p: 0 }, "top_p"],
    [{ top_p: 1.01 }, "top_p"],
    [{ min_p: -0.1 }, "min_p"],
    [{ min_p: 1.5 }, "min_p"],
    [{ repetition_penalty: 0 }, "repetition_penalty"],
    [{ repetition_penalty: Number.POSITIVE_INFINITY }, "repetition_penalty"],
    [{ presence_penalty: 2.1 }, "presence_penalty"],
    [{ frequency_penalty: -2.1 }, "frequency_penalty"],
    [{ logit_bias: { "32000": 1 } }, "logit_bias"],
    [{ logit_bias: { "-1": 1 } }, "logit_bias"],
    [{ logit_bias: { "07": 1 } }, "logit_bias"],
    [{ logit_bias: { "1.5": 1 } }, "logit_bias"],
    [{ logit_bias: { hello: 1 } }, "logit_bias"],
    [{ logit_bias: { "5": 100.5 } }, "logit_bias"],
    [{ logit_bias: [1, 2] as unknown as Record<string, number> }, "logit_bias"],
    [{ seed: 1.5 }, "seed"],
    [{ seed: 2 ** 60 }, "seed"],
    [{ logprobs: 21 }, "logprobs"],
    [{ logprobs: -1 }, "logprobs"],
    [{ stop_token_ids: [5, 32000] }, "stop_token_ids"],
    [{ stop: [""] }, "stop"],
    [{ stop: ["x".repeat(257)] }, "stop"],
    [{ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, "stop"],
    [{ max_tokens: 0 }, "max_tokens"],
    [{ max_tokens: 10.5 }, "max_tokens"],
  ])("rejects %j naming %s", (params, param) => {
    const problem = validateSamplingParams(params, VOCAB_SIZE);
    expect(problem?.param).toBe(param);
    expect(problem?.message).toMatch(/\S/);
  });

  it("names the offending logit_bias key in the message", () => {
    expect(validateSamplingParams({ logit_bias: { "5": 1, "40000": 1 } }, VOCAB_SIZE)?.message).toContain(
      "40000",
    );
  });

  it("reports the first problem in the order of the fields", () => {
    expect(validateSamplingParams({ top_p: 5, temperature: 5 }, VOCAB_SIZE)?.param).toBe("temperature");
  });
});

describe("sequenceSpec builds what travels to the worker", () => {
  it("fills in the model's defaults where the request says nothing (null or absent) and adds eos", () => {
    const spec = build({ temperature: null, top_k: 5, stop: ["x"], stop_token_ids: [9] });
    expect(spec.sampling).toEqual({ temperature: 0.7, top_p: 0.9, top_k: 5 });
    expect(spec.stopTokenIds).toEqual([2, 9]);
    expect(spec.stopStrings).toEqual(["x"]);
    expect(spec.maxTokens).toBe(16);
    expect(spec.logprobs).toBeNull();
    expect(structuredClone(spec)).toEqual(spec);
  });

  it("caps max_tokens with the server's limit and says so", () => {
    expect(validateSamplingParams({ max_tokens: 17 }, VOCAB_SIZE, 16)).toEqual({
      param: "max_tokens",
      message: "must be from 1 to 16",
    });
    expect(() => build({ max_tokens: 17 }, 16)).toThrow(
      "max_tokens must be from 1 to 16 (this server's limit).",
    );
  });

  it("gives choice i of n the seed + i, sharing the prompt's ids", () => {
    const choices = choicesOf(build({ seed: 40 }), 3);
    expect(choices.map((choice) => choice.sampling.seed)).toEqual([40, 41, 42]);
    expect(new Set(choices.map((choice) => choice.promptIds)).size).toBe(1);
  });
});
