import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { post } from "../helpers/http.js";

/**
 * Structured outputs against the shipped model on a live server: the official client's
 * `parse` with a zod schema, vLLM's structured_outputs over raw HTTP, and every way a
 * constraint can be refused (a 400 naming the field, after which the server still serves).
 */

let server: InProcessServer;
let client: OpenAI;
let model: string;

beforeAll(async () => {
  server = await startInProcess({ workers: 1, maxSequences: 8 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0 });
  model = server.config.modelName;
});
afterAll(() => server.close());

const messages = [{ role: "user" as const, content: "Tell me about a small rabbit." }];

interface ErrorBody {
  error: { type: string; param: string | null; message: string; code: string | null };
}

describe("response_format on chat completions, with the openai client", () => {
  it("client.chat.completions.parse with zodResponseFormat returns a parsed object", async () => {
    const Story = z.object({
      title: z.string().max(24),
      mood: z.enum(["happy", "sad", "scared"]),
      characters: z.array(z.string().max(12)).min(1).max(3),
      ending: z.boolean().nullable(),
    });
    for (const seed of [1, 2, 3]) {
      const completion = await client.chat.completions.parse({
        model,
        messages,
        response_format: zodResponseFormat(Story, "story"),
        max_completion_tokens: 300,
        temperature: 0.8,
        seed,
      });
      const [choice] = completion.choices;
      expect(choice.finish_reason).toBe("stop");
      expect(Story.parse(choice.message.parsed)).toEqual(choice.message.parsed);
      expect(JSON.parse(choice.message.content ?? "")).toEqual(choice.message.parsed);
    }
  });

  it("json_object gives a JSON object; streamed, the same text", async () => {
    const request = {
      model,
      messages,
      response_format: { type: "json_object" as const },
      max_completion_tokens: 200,
      seed: 4,
    };
    const whole = await client.chat.completions.create(request);
    const text = whole.choices[0].message.content ?? "";
    if (whole.choices[0].finish_reason === "stop") expect(JSON.parse(text)).toBeTypeOf("object");
    expect(text.startsWith("{")).toBe(true);
    let streamed = "";
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true }))
      streamed += chunk.choices[0]?.delta.content ?? "";
    expect(streamed).toBe(text);
  });

  it("a grammar that cannot finish within max_tokens ends with finish_reason length (incomplete JSON)", async () => {
    const completion = await client.chat.completions.create({
      model,
      messages,
      response_format: {
        type: "json_schema",
        json_schema: { name: "long", schema: { type: "array", items: { type: "integer" }, minItems: 40 } },
      },
      max_completion_tokens: 8,
      seed: 1,
    });
    expect(completion.choices[0].finish_reason).toBe("length");
    expect(completion.choices[0].message.content).toMatch(/^\[/);
    expect(() => JSON.parse(completion.choices[0].message.content ?? "")).toThrow();
  });
});

describe("structured_outputs (vLLM) over raw HTTP, on both endpoints", () => {
  const cases = [
    {
      structured_outputs: { regex: "[A-Z][a-z]{2,8} (ate|saw) [0-9]{1,2} carrots" },
      check: /^[A-Z][a-z]{2,8} (ate|saw) [0-9]{1,2} carrots$/,
    },
    { structured_outputs: { choice: ["yes", "no", "maybe"] }, check: /^(yes|no|maybe)$/ },
    {
      structured_outputs: {
        grammar:
          'root ::= "The " animal " is " colour "."\nanimal ::= "fox" | "owl"\ncolour ::= "red" | "grey"',
      },
      check: /^The (fox|owl) is (red|grey)\.$/,
    },
  ];
  for (const { structured_outputs, check } of cases) {
    const kind = Object.keys(structured_outputs)[0];
    it(`${kind} on chat completions`, async () => {
      const { status, json } = await post(server, "/v1/chat/completions", {
        model,
        messages,
        structured_outputs,
        max_tokens: 40,
        seed: 5,
      });
      expect(status).toBe(200);
      expect(json.choices[0].message.content).toMatch(check);
      expect(json.choices[0].finish_reason).toBe("stop");
    });
    it(`${kind} on completions`, async () => {
      const { status, json } = await post(server, "/v1/completions", {
        model,
        prompt: "Once upon a time",
        structured_outputs,
        max_tokens: 40,
        n: 2,
        seed: 6,
      });
      expect(status).toBe(200);
      for (const choice of json.choices) {
        expect(choice.text).toMatch(check);
        expect(choice.finish_reason).toBe("stop");
      }
    });
  }

  it("structured_outputs.json takes a schema or its JSON text; completions take response_format too", async () => {
    const schema = { type: "object", properties: { done: { type: "boolean" } }, required: ["done"] };
    for (const body of [
      { structured_outputs: { json: schema } },
      { structured_outputs: { json: JSON.stringify(schema) } },
      { response_format: { type: "json_schema", json_schema: { name: "n", schema } } },
    ]) {
      const { status, json } = await post(server, "/v1/completions", {
        model,
        prompt: "Count:",
        max_tokens: 30,
        seed: 7,
        ...body,
      });
      expect(status).toBe(200);
      expect(json.choices[0].finish_reason).toBe("stop");
      expect(JSON.parse(json.choices[0].text).done).toBeTypeOf("boolean");
    }
  });

  it("logprobs with a constraint are those of the masked distribution: the choices' probabilities sum to 1", async () => {
    const { json } = await post(server, "/v1/chat/completions", {
      model,
      messages,
      structured_outputs: { choice: ["yes", "no"] },
      logprobs: true,
      top_logprobs: 5,
      max_tokens: 5,
      seed: 8,
    });
    const first = json.choices[0].logprobs.content[0];
    const alternatives = first.top_logprobs as { token: string; logprob: number }[];
    const mass = alternatives.reduce((sum, { logprob }) => sum + Math.exp(logprob), 0);
    expect(mass).toBeCloseTo(1, 5);
    expect(alternatives.every(({ token }) => "yes".startsWith(token) || "no".startsWith(token))).toBe(true);
  });
});

describe("with other requests", () => {
  it("constrained and unconstrained requests share batches and the prefix cache", async () => {
    const system = {
      role: "system" as const,
      content: "You answer briefly, and you like rabbits very much.",
    };
    const hitsBefore = await server.metric("trine_prefix_cache_hits_total");
    const answers = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        post(server, "/v1/chat/completions", {
          model,
          messages: [system, { role: "user", content: `Question ${i}?` }],
          max_tokens: 24,
          seed: i,
          ...(i % 2 === 0 ? { structured_outputs: { regex: "(Yes|No), [a-z]{3,6}\\." } } : {}),
        }),
      ),
    );
    answers.forEach(({ status, json }, i) => {
      expect(status).toBe(200);
      if (i % 2 === 0) expect(json.choices[0].message.content).toMatch(/^(Yes|No), [a-z]{3,6}\.$/);
    });
    expect(await server.metric("trine_prefix_cache_hits_total")).toBeGreaterThan(hitsBefore);
  });
});

describe("metrics", () => {
  it("count constrained requests by kind, compiles and cache hits", async () => {
    const before = await server.metric("trine_grammar_cache_lookups_total", { result: "hit" });
    const choice = await server.metric("trine_constrained_requests_total", { kind: "choice" });
    for (const seed of [1, 2])
      await post(server, "/v1/completions", {
        model,
        prompt: "x",
        structured_outputs: { choice: ["metric-a", "metric-b"] },
        seed,
      });
    expect(await server.metric("trine_constrained_requests_total", { kind: "choice" })).toBe(choice + 2);
    expect(await server.metric("trine_grammar_cache_lookups_total", { result: "hit" })).toBeGreaterThan(
      before,
    );
    expect(await server.metric("trine_grammar_compile_seconds_count")).toBeGreaterThan(0);
  });
});

describe("bad constraints are a 400 naming the field, and the server keeps serving", () => {
  const refusals: [string, string, Record<string, unknown>][] = [
    [
      "a schema that is not valid JSON Schema",
      "response_format.json_schema.schema",
      { response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "strnig" } } } },
    ],
    [
      "a schema with a keyword xgrammar cannot enforce in that place",
      "response_format.json_schema.schema",
      {
        response_format: {
          type: "json_schema",
          json_schema: { name: "x", schema: { $ref: "#/$defs/missing" } },
        },
      },
    ],
    [
      "a pattern with a length bound (xgrammar would ignore the bound)",
      "response_format.json_schema.schema",
      {
        response_format: {
          type: "json_schema",
          json_schema: { name: "x", schema: { type: "string", pattern: "[a-z]+", maxLength: 3 } },
        },
      },
    ],
    [
      "bounds no number satisfies",
      "structured_outputs.json",
      { structured_outputs: { json: { type: "integer", minimum: 5, maximum: 4 } } },
    ],
    [
      "json_schema without its object",
      "response_format.json_schema",
      { response_format: { type: "json_schema" } },
    ],
    ["a regex that does not parse", "structured_outputs.regex", { structured_outputs: { regex: "a(b" } }],
    [
      "an EBNF grammar that does not parse",
      "structured_outputs.grammar",
      { structured_outputs: { grammar: "root ::= " } },
    ],
    ["an empty choice", "structured_outputs.choice", { structured_outputs: { choice: [] } }],
    ["JSON text that does not parse", "structured_outputs.json", { structured_outputs: { json: "{nope" } }],
    ["two kinds at once", "structured_outputs", { structured_outputs: { regex: "a", choice: ["a"] } }],
    [
      "both fields",
      "structured_outputs",
      { response_format: { type: "json_object" }, structured_outputs: { choice: ["a"] } },
    ],
  ];
  for (const [what, param, fields] of refusals) {
    it(what, async () => {
      const { status, json } = await post(server, "/v1/chat/completions", { model, messages, ...fields });
      expect(status).toBe(400);
      const { error } = json as ErrorBody;
      expect(error.type).toBe("invalid_request_error");
      expect(error.param).toBe(param);
    });
  }

  it("still answers a constrained request after the refusals", async () => {
    const { status, json } = await post(server, "/v1/chat/completions", {
      model,
      messages,
      structured_outputs: { choice: ["fine"] },
    });
    expect(status).toBe(200);
    expect(json.choices[0].message.content).toBe("fine");
  });
});
