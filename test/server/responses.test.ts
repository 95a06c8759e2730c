import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { type RedisServer, startRedisServer } from "../../loadtest/redis-server.js";
import { parseSse } from "../../loadtest/sse-events.js";
import type { ServerConfig } from "../../src/server/config.js";
import { get, post } from "../helpers/http.js";

/**
 * The Responses API with the official openai client, on the embedded store (LMDB in a temporary
 * directory) and on a real redis-server: create, stream, retrieve, delete, input items, and
 * previous_response_id chains that prefill only the new turn.
 */

const greedy = { temperature: 0, max_output_tokens: 12 } as const;

let redis: RedisServer;
const directories: string[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

function embedded(): Partial<ServerConfig> {
  const directory = mkdtempSync(join(tmpdir(), "trine-responses-"));
  directories.push(directory);
  return { stateStore: { kind: "lmdb", directory } };
}

const stores: [string, () => Partial<ServerConfig>][] = [
  ["the embedded store", embedded],
  ["Redis", () => ({ stateStore: { kind: "redis", url: redis.url } })],
];

describe.each(stores)("the Responses API on %s", (_, settings) => {
  let server: InProcessServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startInProcess(settings());
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(async () => server?.close());

  it("creates, retrieves, lists the input of and deletes a response", async () => {
    const created = await client.responses.create({
      model: "storyteller",
      input: "Tell me about a brave mouse.",
      instructions: "You tell short stories.",
      metadata: { topic: "mice" },
      ...greedy,
    });
    expect(created.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(created.object).toBe("response");
    expect(["completed", "incomplete"]).toContain(created.status);
    expect(created.output_text.length).toBeGreaterThan(0);
    expect(created.output_text).toBe(created.output_text.trim());
    expect(created.usage!.output_tokens).toBeGreaterThan(0);
    expect(created.usage!.total_tokens).toBe(created.usage!.input_tokens + created.usage!.output_tokens);
    expect(created.metadata).toEqual({ topic: "mice" });
    expect(created.instructions).toBe("You tell short stories.");

    const retrieved = await client.responses.retrieve(created.id);
    expect(retrieved.output_text).toBe(created.output_text);
    expect(retrieved.usage).toEqual(created.usage);

    const items = await client.responses.inputItems.list(created.id);
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Tell me about a brave mouse." }],
    });

    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    const continued = await post(server, "/v1/responses", {
      input: "More.",
      previous_response_id: created.id,
    });
    expect(continued.status).toBe(404);
    expect(continued.json.error).toMatchObject({
      type: "invalid_request_error",
      param: "previous_response_id",
    });
  });

  it("streams the named events in order, numbered, adding up to the stored response", async () => {
    const stream = await client.responses.create({
      model: "storyteller",
      input: "Once upon a time",
      stream: true,
      ...greedy,
    });
    const events: { type: string; sequence_number: number }[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((event) => event.type);
    const deltas = types.filter((type) => type === "response.output_text.delta").length;
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...Array(deltas).fill("response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      expect.stringMatching(/^response\.(completed|incomplete)$/),
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
    const text = events
      .filter((event) => event.type === "response.output_text.delta")
      .map((event) => (event as unknown as { delta: string }).delta)
      .join("");
    const done = events.at(-1) as unknown as {
      response: { id: string; output: { content: { text: string }[] }[] };
    };
    expect(done.response.output[0].content[0].text).toBe(text);
    expect((await client.responses.retrieve(done.response.id)).output_text).toBe(text);
  });

  it("continues a 20-turn chain by previous_response_id, prefilling only each new turn", async () => {
    let previous: string | undefined;
    let inputTokens = 0;
    for (let turn = 1; turn <= 20; turn++) {
      const response = await client.responses.create({
        model: "storyteller",
        input: `Turn ${turn}: and then what did the mouse do?`,
        previous_response_id: previous,
        temperature: 0,
        max_output_tokens: 6,
      });
      const usage = response.usage!;
      expect(usage.input_tokens).toBeGreaterThan(inputTokens);
      if (turn > 1) {
        // Only the new turn is prefilled (with the previous reply where its last tokens were
        // whitespace the next turn's framing tokenizes differently: then the prompt's cached
        // state is the start).
        expect(usage.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(inputTokens - 1);
        expect(usage.input_tokens - usage.input_tokens_details.cached_tokens).toBeLessThan(40);
      }
      inputTokens = usage.input_tokens;
      previous = response.id;
    }
    const fromState = await server.metric("trine_conversation_starts_total", { start: "stored_state" });
    const rebuilt = await server.metric("trine_conversation_starts_total", {
      start: "rebuilt",
      reason: "prefix",
    });
    expect(fromState + rebuilt).toBe(19);
    expect(fromState).toBeGreaterThanOrEqual(15);
  });
});

describe("a continued conversation", () => {
  let server: InProcessServer;
  let fresh: InProcessServer;
  beforeAll(async () => {
    server = await startInProcess({});
    // No prefix cache and no stored state: every prompt prefilled from its first token.
    fresh = await startInProcess({ prefixCacheEntries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await fresh?.close();
  });

  it("gives exactly the tokens that sending the whole conversation gives (greedy)", async () => {
    const turns = ["Tell me about a brave mouse.", "What was its name?", "Where did it live?", "The end?"];
    const history: { role: string; content: string }[] = [];
    let previous: string | undefined;
    for (const [i, text] of turns.entries()) {
      const options = { temperature: 0, max_output_tokens: 20 + 7 * i, repetition_penalty: 1.2 };
      const chained = await post(server, "/v1/responses", {
        input: text,
        previous_response_id: previous,
        ...options,
      });
      const whole = await post(fresh, "/v1/responses", {
        input: [...history, { role: "user", content: text }],
        store: false,
        ...options,
      });
      expect(chained.status).toBe(200);
      const chainedText = chained.json.output[0].content[0].text;
      expect(chainedText).toBe(whole.json.output[0].content[0].text);
      expect(chained.json.usage.input_tokens).toBe(whole.json.usage.input_tokens);
      if (i > 0) expect(chained.json.usage.input_tokens_details.cached_tokens).toBeGreaterThan(0);
      expect(whole.json.usage.input_tokens_details.cached_tokens).toBe(0);
      history.push({ role: "user", content: text }, { role: "assistant", content: chainedText });
      previous = chained.json.id;
    }
  });

  it("rebuilds from the stored text when the instructions change, and counts it", async () => {
    const first = await post(server, "/v1/responses", {
      input: "Hello.",
      instructions: "Be brief.",
      ...greedy,
    });
    const same = await post(server, "/v1/responses", {
      input: "Again.",
      instructions: "Be brief.",
      previous_response_id: first.json.id,
      ...greedy,
    });
    expect(same.json.usage.input_tokens_details.cached_tokens).toBeGreaterThan(0);
    const before = await server.metric("trine_conversation_starts_total", { reason: "instructions" });
    const other = await post(server, "/v1/responses", {
      input: "Again.",
      previous_response_id: first.json.id,
      ...greedy,
    });
    expect(other.status).toBe(200);
    expect(other.json.instructions).toBeNull();
    expect(await server.metric("trine_conversation_starts_total", { reason: "instructions" })).toBe(
      before + 1,
    );
  });

  it("refuses what it cannot do with OpenAI's error object", async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ input: "x", previous_response_id: "resp_nope" }, 404, "previous_response_id"],
      [{ input: [] }, 400, "input"],
      [
        { input: [{ role: "user", content: [{ type: "input_image", image_url: "x" }] }] },
        400,
        "input[0].content[0].type",
      ],
      [{ input: [{ type: "function_call", name: "f" }] }, 400, "input[0].type"],
      [{ input: [{ role: "robot", content: "x" }] }, 400, "input[0].role"],
      [{ input: "x", text: { format: { type: "xml" } } }, 400, "text.format.type"],
      [{ input: "x", text: { format: { type: "json_schema", schema: {} } } }, 400, "text.format.name"],
      [{ input: "x", max_output_tokens: 0 }, 400, "max_output_tokens"],
      [{ input: "x", tools: [{ type: "function", name: "f" }] }, 400, "tools"],
      [{ input: "x", surprise: 1 }, 400, "surprise"],
    ];
    for (const [body, status, param] of cases) {
      const answer = await post(server, "/v1/responses", body);
      expect([answer.status, answer.json.error?.param]).toEqual([status, param]);
    }
    expect((await get(server, "/v1/responses/resp_nope")).status).toBe(404);
    expect((await get(server, "/v1/responses/resp_nope/input_items")).status).toBe(404);
  });

  it("constrains the output to text.format's JSON schema, and echoes the format", async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const schema = {
      type: "object",
      properties: { mood: { enum: ["happy", "sad"] }, mice: { type: "integer", minimum: 1, maximum: 9 } },
      required: ["mood", "mice"],
      additionalProperties: false,
    };
    const format = { type: "json_schema" as const, name: "story_facts", schema, strict: true };
    const created = await client.responses.create({
      model: "storyteller",
      input: "How does the mouse feel?",
      text: { format },
      temperature: 0,
      max_output_tokens: 40,
    });
    const value = JSON.parse(created.output_text);
    expect(["happy", "sad"]).toContain(value.mood);
    expect(Number.isInteger(value.mice) && value.mice >= 1 && value.mice <= 9).toBe(true);
    expect(Object.keys(value).sort()).toEqual(["mice", "mood"]);
    expect(created.text?.format).toEqual(format);
  });

  it("pages input items with limit, order and after", async () => {
    const input = ["a", "b", "c", "d", "e"].map((content) => ({ role: "user", content }));
    const created = await post(server, "/v1/responses", { input, ...greedy });
    const page = (query: string) => get(server, `/v1/responses/${created.json.id}/input_items${query}`);
    const texts = (answer: Awaited<ReturnType<typeof page>>) =>
      answer.json.data.map((item: { content: { text: string }[] }) => item.content[0].text);
    expect(texts(await page(""))).toEqual(["e", "d", "c", "b", "a"]);
    const first = await page("?order=asc&limit=2");
    expect(texts(first)).toEqual(["a", "b"]);
    expect(first.json.has_more).toBe(true);
    const next = await page(`?order=asc&limit=2&after=${first.json.last_id}`);
    expect(texts(next)).toEqual(["c", "d"]);
    expect((await page("?limit=0")).status).toBe(400);
  });
});

describe("stored responses with API keys", () => {
  let server: InProcessServer;
  beforeAll(async () => {
    server = await startInProcess({ apiKeys: ["key-a", "key-b"] });
  });
  afterAll(async () => server?.close());

  it("belong to the key that created them: another key gets 404 everywhere", async () => {
    const a = { authorization: "Bearer key-a" };
    const b = { authorization: "Bearer key-b" };
    const created = await post(server, "/v1/responses", { input: "Hi.", ...greedy }, a);
    const id = created.json.id;
    expect((await get(server, `/v1/responses/${id}`, a)).status).toBe(200);
    expect((await get(server, `/v1/responses/${id}`, b)).status).toBe(404);
    expect((await get(server, `/v1/responses/${id}/input_items`, b)).status).toBe(404);
    const continued = await post(server, "/v1/responses", { input: "More.", previous_response_id: id }, b);
    expect([continued.status, continued.json.error.param]).toEqual([404, "previous_response_id"]);
    const deleted = await fetch(`${server.url}/v1/responses/${id}`, { method: "DELETE", headers: b });
    expect(deleted.status).toBe(404);
    expect((await get(server, `/v1/responses/${id}`, a)).status).toBe(200);
    // As the Python client deletes: Content-Type application/json and an empty body.
    const byOwner = await fetch(`${server.url}/v1/responses/${id}`, {
      method: "DELETE",
      headers: { ...a, "content-type": "application/json" },
    });
    expect([byOwner.status, await byOwner.json()]).toEqual([200, { id, object: "response", deleted: true }]);
    expect((await get(server, `/v1/responses/${id}`, a)).status).toBe(404);
  });
});

describe("the stream's bytes", () => {
  let server: InProcessServer;
  beforeAll(async () => {
    server = await startInProcess({});
  });
  afterAll(async () => server?.close());

  it("name every event and end without [DONE]", async () => {
    const answer = await post(server, "/v1/responses", { input: "Hi.", stream: true, ...greedy });
    const events = parseSse(answer.text);
    for (const event of events) expect(JSON.parse(event.data).type).toBe(event.event);
    expect(answer.text).not.toContain("[DONE]");
  });
});
