import { Ajv } from "ajv";
import OpenAI from "openai";
import type { ChatCompletionTool } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { post } from "../helpers/http.js";

/**
 * Tool calling with the official client against the shipped model: with tool_choice "required"
 * or a named function the arguments are constrained to the function's schema, so they always
 * parse and validate; streamed, the calls arrive as OpenAI's tool-call deltas.
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

const weather = {
  type: "object",
  properties: {
    city: { type: "string", maxLength: 16 },
    unit: { enum: ["celsius", "fahrenheit"] },
    days: { type: "integer", minimum: 1, maximum: 7 },
  },
  required: ["city", "unit", "days"],
  additionalProperties: false,
};
const tools: ChatCompletionTool[] = [
  {
    type: "function",
    function: { name: "get_weather", description: "Weather forecast", parameters: weather },
  },
  { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } },
];
const messages = [{ role: "user" as const, content: "What is the weather in Paris?" }];
const validateWeather = new Ajv().compile(weather);

describe("tool calls with the openai client", () => {
  it("tool_choice required: a call whose arguments validate, finish_reason tool_calls", async () => {
    const completion = await client.chat.completions.create({
      model,
      messages,
      tools,
      tool_choice: "required",
      parallel_tool_calls: false,
      max_completion_tokens: 200,
      seed: 3,
    });
    const [choice] = completion.choices;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    const calls = choice.message.tool_calls ?? [];
    expect(calls).toHaveLength(1);
    for (const call of calls) {
      if (call.type !== "function") throw new Error("not a function call");
      expect(call.id).toMatch(/^call_/);
      expect(["get_weather", "get_time"]).toContain(call.function.name);
      const args = JSON.parse(call.function.arguments);
      if (call.function.name === "get_weather") expect(validateWeather(args)).toBe(true);
      else expect(args).toEqual({});
    }
  });

  it("a named function with parallel_tool_calls false: exactly that one call", async () => {
    for (const seed of [1, 2, 3]) {
      const completion = await client.chat.completions.create({
        model,
        messages,
        tools,
        tool_choice: { type: "function", function: { name: "get_weather" } },
        parallel_tool_calls: false,
        max_completion_tokens: 200,
        seed,
      });
      const [choice] = completion.choices;
      expect(choice.finish_reason).toBe("tool_calls");
      const calls = choice.message.tool_calls ?? [];
      expect(calls).toHaveLength(1);
      const [call] = calls;
      if (call.type !== "function") throw new Error("not a function call");
      expect(call.function.name).toBe("get_weather");
      expect(validateWeather(JSON.parse(call.function.arguments))).toBe(true);
    }
  });

  it("streams tool-call deltas in OpenAI's chunk format, the same calls as unstreamed", async () => {
    const request = {
      model,
      messages,
      tools,
      tool_choice: "required" as const,
      parallel_tool_calls: false,
      max_completion_tokens: 200,
      seed: 5,
    };
    const whole = await client.chat.completions.create(request);
    const streamed: { name: string; arguments: string }[] = [];
    let finish: string | null = null;
    let content = "";
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
      const [choice] = chunk.choices;
      if (!choice) continue;
      content += choice.delta.content ?? "";
      for (const delta of choice.delta.tool_calls ?? []) {
        expect(delta.id).toMatch(/^call_/);
        expect(delta.type).toBe("function");
        streamed[delta.index] = {
          name: delta.function?.name ?? "",
          arguments: delta.function?.arguments ?? "",
        };
      }
      finish = choice.finish_reason ?? finish;
    }
    expect(finish).toBe("tool_calls");
    expect(content).toBe("");
    expect(streamed).toEqual(
      (whole.choices[0].message.tool_calls ?? []).map((call) =>
        call.type === "function" ? { name: call.function.name, arguments: call.function.arguments } : null,
      ),
    );
  });

  it("a history with an assistant's tool calls and the tool's answers is accepted", async () => {
    const completion = await client.chat.completions.create({
      model,
      tools,
      messages: [
        ...messages,
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city": "Paris", "unit": "celsius", "days": 1}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "Sunny, 21 degrees." },
      ],
      tool_choice: "none",
      max_completion_tokens: 10,
      seed: 1,
    });
    expect(completion.choices[0].message.tool_calls).toBeUndefined();
    expect(typeof completion.choices[0].message.content).toBe("string");
  });
});

describe("bad tool requests are a 400 naming the field", () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ["duplicate names", "tools[1].function.name", { tools: [tools[0], tools[0]] }],
    [
      "parameters that are not a usable schema",
      "tools[0].function.parameters",
      { tools: [{ type: "function", function: { name: "f", parameters: { type: "strnig" } } }] },
    ],
    [
      "tool_choice naming an unknown function",
      "tool_choice.function.name",
      { tools, tool_choice: { type: "function", function: { name: "nope" } } },
    ],
    ["required without tools", "tool_choice", { tool_choice: "required" }],
    ["a tool_choice that is no choice", "tool_choice", { tools, tool_choice: "sometimes" }],
    [
      "tool calls together with a response_format",
      "tool_choice",
      { tools, tool_choice: "required", response_format: { type: "json_object" } },
    ],
    [
      "a history call whose arguments are not JSON",
      "messages[1].tool_calls[0].function.arguments",
      {
        messages: [
          ...messages,
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c", type: "function", function: { name: "get_time", arguments: "{nope" } }],
          },
        ],
      },
    ],
  ];
  for (const [what, param, fields] of cases) {
    it(what, async () => {
      const { status, json } = await post(server, "/v1/chat/completions", { model, messages, ...fields });
      expect(status, JSON.stringify(json)).toBe(400);
      expect(json.error.type).toBe("invalid_request_error");
      expect(json.error.param).toBe(param);
    });
  }
});
