import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { parseSse } from "../../loadtest/sse-events.js";
import { ModelFileError } from "../../src/engine/errors.js";
import { DEFAULT_MODEL_DIR } from "../../src/model/default-model.js";
import { loadModel } from "../../src/model/loaded-model.js";
import { ChatTemplate, DEFAULT_TEMPLATE_STOP_STRINGS } from "../../src/server/chat-template.js";
import { CompletionRequest } from "../../src/server/endpoints/completions/schema.js";
import { get, post } from "../helpers/http.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

const dir = makeRandomTestModel();
const loaded = loadModel(dir);
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess({
    modelDir: dir,
    modelName: "storyteller-test",
    maxPromptTokens: 300,
    maxOutputTokens: 200,
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("models", () => {
  it("lists the one served model and describes it by id", async () => {
    const list = await get(server, "/v1/models");
    expect(list.status).toBe(200);
    expect(list.json).toEqual({
      object: "list",
      data: [
        {
          id: "storyteller-test",
          object: "model",
          created: expect.any(Number),
          owned_by: "trine",
          max_prompt_tokens: 300,
          max_output_tokens: 200,
        },
      ],
    });
    expect((await get(server, "/v1/models/storyteller-test")).json).toEqual(list.json.data[0]);
  });
});

describe("tokenize and detokenize", () => {
  it("tokenizes a prompt as completions do, and back", async () => {
    const tokens = await post(server, "/tokenize", { model: "storyteller-test", prompt: "Hello world" });
    expect(tokens.json).toEqual({
      tokens: loaded.tokenizer.encode("Hello world"),
      count: loaded.tokenizer.encode("Hello world").length,
      max_model_len: 300,
    });
    const bare = await post(server, "/tokenize", { prompt: "Hello world", add_special_tokens: false });
    expect(bare.json.tokens).toEqual(loaded.tokenizer.encode("Hello world", { addSpecialTokens: false }));
    expect((await post(server, "/detokenize", { tokens: tokens.json.tokens })).json).toEqual({
      prompt: "Hello world",
    });
  });

  it("tokenizes messages as chat completions do", async () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ];
    const { json } = await post(server, "/tokenize", { messages });
    expect(json.tokens).toEqual(loaded.tokenizer.encode("System: Be brief.\n\nUser: Hi\n\nAssistant:"));
    const chat = await post(server, "/v1/chat/completions", {
      model: "storyteller-test",
      messages,
      max_tokens: 1,
    });
    expect(chat.json.usage.prompt_tokens).toBe(json.count);
  });
});

describe("the default chat template", () => {
  const template = ChatTemplate.forModel(dir, loaded.tokenizerConfig, loaded.tokenizer);

  it("frames the conversation as plain text and ends with the assistant's turn", () => {
    const text = template.render(
      [
        { role: "system", content: "S" },
        { role: "user", content: "U1" },
        { role: "assistant", content: "A1" },
        { role: "user", content: "U2" },
      ],
      true,
    );
    expect(text).toBe("System: S\n\nUser: U1\n\nAssistant: A1\n\nUser: U2\n\nAssistant:");
    expect(template.stopStrings).toEqual(DEFAULT_TEMPLATE_STOP_STRINGS);
  });

  it("marks where the system message ends, for the prefix state cache", async () => {
    const { ids, systemPrefixTokens } = await template.tokenize([
      { role: "system", content: "You are a storyteller." },
      { role: "user", content: "Go on." },
    ]);
    const system = loaded.tokenizer.encode("System: You are a storyteller.\n\n");
    expect(systemPrefixTokens).toBe(system.length);
    expect(ids.slice(0, system.length)).toEqual(system);
    expect(
      (await template.tokenize([{ role: "user", content: "Go on." }])).systemPrefixTokens,
    ).toBeUndefined();
  });

  it("joins text parts with newlines", async () => {
    const { json } = await post(server, "/tokenize", {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "one" },
            { type: "text", text: "two" },
          ],
        },
      ],
    });
    expect(json.tokens).toEqual(loaded.tokenizer.encode("User: one\ntwo\n\nAssistant:"));
  });
});

describe("a model's own chat template", () => {
  it("is rendered with Jinja from tokenizer_config.json, special tokens written by the template", async () => {
    const own = makeRandomTestModel();
    try {
      const chatTemplate =
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
      writeFileSync(join(own, "tokenizer_config.json"), JSON.stringify({ chat_template: chatTemplate }));
      const ownServer = await startInProcess({ modelDir: own });
      try {
        const { json } = await post(ownServer, "/tokenize", { messages: [{ role: "user", content: "Hi" }] });
        expect(json.tokens).toEqual(
          loaded.tokenizer.encode("<user>Hi<assistant>", { addSpecialTokens: false }),
        );
        const chat = await post(ownServer, "/v1/chat/completions", {
          model: ownServer.config.modelName,
          messages: [{ role: "user", content: "Hi" }],
          max_tokens: 3,
        });
        expect(chat.status).toBe(200);
      } finally {
        await ownServer.close();
      }
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it("stops start-up when it does not parse", () => {
    expect(() =>
      ChatTemplate.forModel(dir, { chat_template: "{% for m in messages %}" }, loaded.tokenizer),
    ).toThrow(ModelFileError);
  });
});

describe("OpenAPI", () => {
  it("documents every route from the schemas that validate them", async () => {
    const { status, json } = await get(server, "/docs/json");
    expect(status).toBe(200);
    expect(Object.keys(json.paths).sort()).toEqual(
      [
        "/detokenize",
        "/health",
        "/metrics",
        "/ready",
        "/tokenize",
        "/tokenizer_info",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/models",
        "/v1/models/{id}",
        "/v1/models/{id}/details",
        "/v1/responses",
        "/v1/responses/{id}",
        "/v1/responses/{id}/input_items",
      ].sort(),
    );
    const documented = json.paths["/v1/completions"].post.requestBody.content["application/json"].schema;
    expect(Object.keys(documented.properties).sort()).toEqual(
      Object.keys(CompletionRequest.properties).sort(),
    );
    expect(documented.additionalProperties).toBe(false);
    const page = await get(server, "/docs");
    expect([200, 302]).toContain(page.status);
  });
});

describe("the request deadline", () => {
  it("ends a request that runs past it with finish_reason length, streamed or not", async () => {
    const hurried = await startInProcess({
      modelDir: dir,
      requestTimeoutMs: 300,
      maxOutputTokens: 1_000_000,
    });
    try {
      const body = {
        model: hurried.config.modelName,
        prompt: "Once",
        max_tokens: 1_000_000,
        logit_bias: { "1": -100 },
      };
      const whole = await post(hurried, "/v1/completions", body);
      expect(whole.status).toBe(200);
      expect(whole.json.choices[0].finish_reason).toBe("length");
      expect(whole.json.usage.completion_tokens).toBeGreaterThan(0);
      expect(whole.json.usage.completion_tokens).toBeLessThan(1_000_000);

      const streamed = await post(hurried, "/v1/completions", { ...body, stream: true });
      const events = parseSse(streamed.text);
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
      expect(chunks.at(-1).choices[0].finish_reason).toBe("length");
      expect(events.at(-1)?.data).toBe("[DONE]");
    } finally {
      await hurried.close();
    }
  });
});

describe("the curl examples of docs/API.md and README.md", () => {
  /** The curl commands of the ```sh blocks, as [method, path, headers, body]. */
  function curlExamples(): {
    command: string;
    path: string;
    headers: Record<string, string>;
    body?: string;
  }[] {
    const root = join(import.meta.dirname, "..", "..");
    const docs = [join(root, "docs", "API.md"), join(root, "README.md")].map((path) =>
      readFileSync(path, "utf8"),
    );
    const blocks = docs.flatMap((doc) => [...doc.matchAll(/```sh\n(curl [\s\S]*?)```/g)]);
    return blocks.map((block) => {
      const command = block[1].replaceAll("\\\n", " ").trim();
      const words = [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]);
      expect(words[0]).toBe("curl");
      const headers: Record<string, string> = {};
      let path = "";
      let body: string | undefined;
      for (let i = 1; i < words.length; i++) {
        if (words[i] === "-H") {
          const [name, ...value] = words[++i].split(":");
          headers[name.trim()] = value.join(":").trim();
        } else if (words[i] === "-d") body = words[++i];
        else if (!words[i].startsWith("-")) path = words[i].replace(/^localhost:8000/, "");
      }
      return { command, path, headers, body };
    });
  }

  it("has curl examples that work as written against the shipped model", async () => {
    const storyteller = await startInProcess({ modelDir: DEFAULT_MODEL_DIR });
    try {
      const examples = curlExamples();
      expect(examples.length).toBeGreaterThanOrEqual(23);
      for (const example of examples) {
        const response = await fetch(`${storyteller.url}${example.path}`, {
          method: example.body === undefined ? "GET" : "POST",
          headers: example.headers,
          body: example.body,
        });
        const text = await response.text();
        expect(response.status, `${example.command}\n${text}`).toBe(200);
        if (example.path === "/detokenize") expect(JSON.parse(text)).toEqual({ prompt: "Once upon a time" });
        if (example.body?.includes('"stream": true')) expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
      }
    } finally {
      await storyteller.close();
    }
  });
});

describe("CORS", () => {
  it("answers preflights for configured origins, before and without the API key check", async () => {
    const browserFacing = await startInProcess({
      modelDir: dir,
      corsOrigins: ["https://app.example.com"],
      apiKeys: ["k"],
    });
    try {
      const preflight = await fetch(`${browserFacing.url}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example.com",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      const models = await get(browserFacing, "/v1/models", {
        origin: "https://app.example.com",
        authorization: "Bearer k",
      });
      expect(models.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      const stranger = await get(browserFacing, "/v1/models", {
        origin: "https://evil.example",
        authorization: "Bearer k",
      });
      expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await browserFacing.close();
    }
  });
});
