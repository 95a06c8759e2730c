import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { type RedisServer, startRedisServer } from "../../loadtest/redis-server.js";
import { post } from "../helpers/http.js";

/**
 * The Responses API's store under faults, for real: two servers sharing one redis-server, that
 * Redis killed mid-traffic and restarted, and a server restarted on the embedded store.
 */

const greedy = { temperature: 0, max_output_tokens: 8 } as const;
const chat = {
  model: "storyteller",
  messages: [{ role: "user", content: "Tell me a story." }],
  max_tokens: 4,
  temperature: 0,
};

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => redis?.stop());

describe("two servers sharing one Redis", () => {
  let a: InProcessServer;
  let b: InProcessServer;
  beforeAll(async () => {
    a = await startInProcess({ stateStore: { kind: "redis", url: redis.url } });
    b = await startInProcess({ stateStore: { kind: "redis", url: redis.url } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it("continue each other's conversations from the stored state, turn by turn", async () => {
    let previous: string | undefined;
    for (let turn = 0; turn < 6; turn++) {
      const server = turn % 2 === 0 ? a : b;
      const answer = await post(server, "/v1/responses", {
        input: `Turn ${turn}: what happened then?`,
        previous_response_id: previous,
        ...greedy,
      });
      expect(answer.status).toBe(200);
      if (turn > 0) expect(answer.json.usage.input_tokens_details.cached_tokens).toBeGreaterThan(0);
      previous = answer.json.id;
    }
    // Each server continued the other's responses: only a stored state can have covered them.
    expect(await a.metric("trine_conversation_starts_total", { start: "stored_state" })).toBeGreaterThan(0);
    expect(await b.metric("trine_conversation_starts_total", { start: "stored_state" })).toBeGreaterThan(0);
  });

  it("let two continuations of one response both succeed, as two branches", async () => {
    const parent = await post(a, "/v1/responses", { input: "Once upon a time.", ...greedy });
    const [left, right] = await Promise.all([
      post(a, "/v1/responses", { input: "Left.", previous_response_id: parent.json.id, ...greedy }),
      post(b, "/v1/responses", { input: "Right.", previous_response_id: parent.json.id, ...greedy }),
    ]);
    expect([left.status, right.status]).toEqual([200, 200]);
    expect(left.json.id).not.toBe(right.json.id);
    expect(left.json.previous_response_id).toBe(parent.json.id);
    expect(right.json.previous_response_id).toBe(parent.json.id);
  });
});

describe("Redis killed mid-traffic and restarted", () => {
  let server: InProcessServer;
  let own: RedisServer;
  beforeAll(async () => {
    own = await startRedisServer();
    server = await startInProcess({ stateStore: { kind: "redis", url: own.url } });
  });
  afterAll(async () => {
    await server?.close();
    await own?.stop();
  });

  it("answers 503 with Retry-After at once to what needs the store, serves the rest, and recovers by itself", async () => {
    const stored = await post(server, "/v1/responses", { input: "Hello.", ...greedy });
    expect(stored.status).toBe(200);
    expect(await server.metric("trine_state_store_up")).toBe(1);
    await own.kill();
    expect(await server.metric("trine_state_store_up")).toBe(0);

    const started = performance.now();
    const needsStore = [
      await post(server, "/v1/responses", { input: "Hi.", ...greedy }),
      await post(server, "/v1/responses", {
        input: "Again.",
        previous_response_id: stored.json.id,
        ...greedy,
      }),
      await fetch(`${server.url}/v1/responses/${stored.json.id}`).then(async (answer) => ({
        status: answer.status,
        headers: answer.headers,
        json: await answer.json(),
      })),
    ];
    expect(performance.now() - started).toBeLessThan(2_000);
    for (const answer of needsStore) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("1");
      expect(answer.json.error.code).toBe("store_unavailable");
    }
    // Not needing the store: chat, and a response that is not stored.
    const chatted = await post(server, "/v1/chat/completions", chat);
    expect([chatted.status, chatted.json.error]).toEqual([200, undefined]);
    expect(
      (await post(server, "/v1/responses", { input: "Unstored.", store: false, ...greedy })).status,
    ).toBe(200);

    await own.start();
    let status = 0;
    for (let attempt = 0; attempt < 60 && status !== 200; attempt++) {
      status = (await post(server, "/v1/responses", { input: "Back?", ...greedy })).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
    expect(await server.metric("trine_state_store_up")).toBe(1);
    // Redis restarted empty (no persistence in this test): the old response is gone, a clean 404.
    const gone = await post(server, "/v1/responses", { input: "x", previous_response_id: stored.json.id });
    expect([gone.status, gone.json.error.param]).toEqual([404, "previous_response_id"]);
  });
});

describe("a restart on the embedded store", () => {
  const directory = mkdtempSync(join(tmpdir(), "trine-restart-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("continues a stored conversation from its state", async () => {
    const first = await startInProcess({ stateStore: { kind: "lmdb", directory } });
    const created = await post(first, "/v1/responses", { input: "Tell me about a brave mouse.", ...greedy });
    await first.close();

    const second = await startInProcess({ stateStore: { kind: "lmdb", directory } });
    try {
      const continued = await post(second, "/v1/responses", {
        input: "What happened next?",
        previous_response_id: created.json.id,
        ...greedy,
      });
      expect(continued.status).toBe(200);
      expect(continued.json.usage.input_tokens_details.cached_tokens).toBeGreaterThan(0);
      expect(await second.metric("trine_conversation_starts_total", { start: "stored_state" })).toBe(1);
    } finally {
      await second.close();
    }
  });
});

describe("states that must not be trusted, and a full store", () => {
  let native: InProcessServer;
  let wasm: InProcessServer;
  let other: InProcessServer;
  beforeAll(async () => {
    const shared = { stateStore: { kind: "redis", url: redis.url } } as const;
    native = await startInProcess(shared);
    // The same model on another kernel: its states may round differently, so they are foreign.
    wasm = await startInProcess({ ...shared, kernel: "wasm" });
    other = await startInProcess({ ...shared, modelName: "another-model" });
  });
  afterAll(async () => {
    await native?.close();
    await wasm?.close();
    await other?.close();
  });

  it("rebuilds a conversation whose state another kernel made, and refuses another model's", async () => {
    const first = await post(native, "/v1/responses", { input: "Tell me about a brave mouse.", ...greedy });
    const continued = await post(wasm, "/v1/responses", {
      input: "What happened next?",
      previous_response_id: first.json.id,
      ...greedy,
    });
    expect(continued.status).toBe(200);
    expect(continued.json.usage.input_tokens_details.cached_tokens).toBe(0);
    expect(
      await wasm.metric("trine_conversation_starts_total", { start: "rebuilt", reason: "foreign" }),
    ).toBe(1);
    const refused = await post(other, "/v1/responses", {
      model: "another-model",
      input: "x",
      previous_response_id: first.json.id,
    });
    expect([refused.status, refused.json.error.param, refused.json.error.code]).toEqual([
      400,
      "previous_response_id",
      "model_mismatch",
    ]);
  });

  it("drops the oldest responses when the store is full, never failing a request", async () => {
    const server = await startInProcess({ stateStoreMaxBytes: 120_000 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const answer = await post(server, "/v1/responses", { input: `Story ${i}.`, ...greedy });
        expect(answer.status).toBe(200);
        ids.push(answer.json.id);
      }
      const oldest = await post(server, "/v1/responses", { input: "x", previous_response_id: ids[0] });
      expect([oldest.status, oldest.json.error.param]).toEqual([404, "previous_response_id"]);
      const newest = await post(server, "/v1/responses", {
        input: "x",
        previous_response_id: ids[7],
        ...greedy,
      });
      expect(newest.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("leaves out the oldest turns with truncation auto, and refuses without it", async () => {
    const server = await startInProcess({ maxPromptTokens: 80 });
    try {
      let previous: string | undefined;
      for (let turn = 0; turn < 4; turn++) {
        const answer = await post(server, "/v1/responses", {
          input: `Turn ${turn}: tell me more about the little grey mouse.`,
          previous_response_id: previous,
          truncation: "auto",
          ...greedy,
        });
        expect(answer.status).toBe(200);
        expect(answer.json.usage.input_tokens).toBeLessThanOrEqual(80);
        previous = answer.json.id;
      }
      const refused = await post(server, "/v1/responses", {
        input: "Turn 4: and then?",
        previous_response_id: previous,
        ...greedy,
      });
      expect([refused.status, refused.json.error.code]).toEqual([400, "context_length_exceeded"]);
    } finally {
      await server.close();
    }
  });
});
