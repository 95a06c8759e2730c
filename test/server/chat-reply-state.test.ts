import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { type RedisServer, startRedisServer } from "../../loadtest/redis-server.js";
import { get, post } from "../helpers/http.js";

/**
 * Chat completions keep the state after each reply in the prefix cache and the state store, so a
 * client that sends the whole conversation back (what chat UIs do) prefills only its new turn, on
 * the same replica, on another one sharing the store, and after a restart (issue 13, item 3).
 */

const request = { model: "storyteller", temperature: 0, max_tokens: 8 };
const question = "Tell me about a brave mouse.";

/** The first turn's answer, and the second turn's messages with that reply sent back. */
async function firstTurn(server: InProcessServer, headers: Record<string, string> = {}) {
  const first = await post(
    server,
    "/v1/chat/completions",
    { ...request, messages: [{ role: "user", content: question }] },
    headers,
  );
  expect(first.status).toBe(200);
  const reply = first.json.choices[0].message.content as string;
  // The default template frames a reply as "Assistant: " + text, so the text goes back trimmed.
  const messages = [
    { role: "user", content: question },
    { role: "assistant", content: reply.trim() },
    { role: "user", content: "What happened next?" },
  ];
  // The prompt, and the reply's tokens but its last (never fed): what the reply's state covers.
  const covered = first.json.usage.prompt_tokens + first.json.usage.completion_tokens - 1;
  return { messages, covered };
}

let noCache: InProcessServer;
/** The second turn as a server with no cache and an empty store answers it. */
async function uncachedAnswer(messages: unknown[]): Promise<string> {
  const uncached = await post(noCache, "/v1/chat/completions", { ...request, messages });
  expect(uncached.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
  return uncached.json.choices[0].message.content;
}

let redis: RedisServer;
beforeAll(async () => {
  noCache = await startInProcess({ prefixCacheEntries: 0 });
  redis = await startRedisServer();
});
afterAll(async () => {
  await noCache?.close();
  await redis?.stop();
});

it("prefills only the new turn when the history comes back, with the same answer as without the cache", async () => {
  const server = await startInProcess({});
  try {
    const { messages, covered } = await firstTurn(server);
    const second = await post(server, "/v1/chat/completions", { ...request, messages });
    expect(second.json.usage.prompt_tokens_details.cached_tokens).toBe(covered);
    expect(second.json.choices[0].message.content).toBe(await uncachedAnswer(messages));
  } finally {
    await server.close();
  }
});

describe("reply states in the state store", () => {
  it("let a second server sharing one Redis continue the first's chat, with the same answer", async () => {
    const shared = { stateStore: { kind: "redis", url: redis.url } } as const;
    const a = await startInProcess(shared);
    const b = await startInProcess(shared);
    try {
      const { messages, covered } = await firstTurn(a);
      const second = await post(b, "/v1/chat/completions", { ...request, messages });
      expect(second.status).toBe(200);
      expect(second.json.usage.prompt_tokens_details.cached_tokens).toBe(covered);
      expect(second.json.choices[0].message.content).toBe(await uncachedAnswer(messages));
      expect(await b.metric("trine_chat_reply_state_lookups_total", { result: "hit" })).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("survive a restart on the embedded store", async () => {
    const directory = mkdtempSync(join(tmpdir(), "trine-chat-restart-"));
    try {
      const first = await startInProcess({ stateStore: { kind: "lmdb", directory } });
      const { messages, covered } = await firstTurn(first);
      await first.close();
      const second = await startInProcess({ stateStore: { kind: "lmdb", directory } });
      try {
        const continued = await post(second, "/v1/chat/completions", { ...request, messages });
        expect(continued.json.usage.prompt_tokens_details.cached_tokens).toBe(covered);
        expect(continued.json.choices[0].message.content).toBe(await uncachedAnswer(messages));
      } finally {
        await second.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("belong to the API key whose chat made them", async () => {
    const shared = {
      stateStore: { kind: "redis" as const, url: redis.url },
      apiKeys: ["key-one", "key-two"],
    };
    // Three servers: each second turn must find the state in the store, not in a prefix cache.
    const servers = await Promise.all([
      startInProcess(shared),
      startInProcess(shared),
      startInProcess(shared),
    ]);
    const [a, b, c] = servers;
    try {
      const { messages, covered } = await firstTurn(a, { authorization: "Bearer key-one" });
      const otherKey = await post(
        b,
        "/v1/chat/completions",
        { ...request, messages },
        {
          authorization: "Bearer key-two",
        },
      );
      expect(otherKey.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
      const sameKey = await post(
        c,
        "/v1/chat/completions",
        { ...request, messages },
        {
          authorization: "Bearer key-one",
        },
      );
      expect(sameKey.json.usage.prompt_tokens_details.cached_tokens).toBe(covered);
    } finally {
      await Promise.all(servers.map((server) => server.close()));
    }
  });

  it("are skipped while the store is down: chat answers, /ready reports the store down, then up again", async () => {
    const own = await startRedisServer();
    const server = await startInProcess({ stateStore: { kind: "redis", url: own.url } });
    try {
      const { messages } = await firstTurn(server);
      expect((await get(server, "/ready")).json).toEqual({
        status: "ready",
        state_store: { backend: "redis", status: "up" },
      });
      await own.kill();
      const ready = await get(server, "/ready");
      expect([ready.status, ready.json.state_store]).toEqual([200, { backend: "redis", status: "down" }]);
      const started = performance.now();
      // A fresh conversation (not in the prefix cache), so its turn looks in the store.
      const other = messages.map((message) => ({ ...message, content: `${message.content} Again.` }));
      for (const sent of [messages, other]) {
        const answer = await post(server, "/v1/chat/completions", { ...request, messages: sent });
        expect([answer.status, answer.json.error]).toEqual([200, undefined]);
      }
      expect(performance.now() - started).toBeLessThan(2_000);
      const failed =
        (await server.metric("trine_chat_reply_state_lookups_total", { result: "error" })) +
        (await server.metric("trine_chat_reply_state_lookups_total", { result: "skipped" }));
      expect(failed).toBeGreaterThan(0);
      await own.start();
      let status = "down";
      for (let attempt = 0; attempt < 60 && status !== "up"; attempt++) {
        status = (await get(server, "/ready")).json.state_store.status;
        if (status !== "up") await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe("up");
    } finally {
      await server.close();
      await own.stop();
    }
  });
});
