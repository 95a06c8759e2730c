import { afterAll, beforeAll, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { post } from "../helpers/http.js";

/**
 * Chat completions keep the state after each reply in the prefix cache, so a client that sends
 * the whole conversation back (what chat UIs do) prefills only its new turn (issue 13, item 3).
 */

let server: InProcessServer;
let noCache: InProcessServer;
beforeAll(async () => {
  server = await startInProcess({});
  noCache = await startInProcess({ prefixCacheEntries: 0 });
});
afterAll(async () => {
  await server?.close();
  await noCache?.close();
});

it("prefills only the new turn when the history comes back, with the same answer as without the cache", async () => {
  const request = { model: "storyteller", temperature: 0, max_tokens: 8 };
  const first = await post(server, "/v1/chat/completions", {
    ...request,
    messages: [{ role: "user", content: "Tell me about a brave mouse." }],
  });
  expect(first.status).toBe(200);
  const reply = first.json.choices[0].message.content as string;
  // The default template frames a reply as "Assistant: " + text, so the text goes back trimmed.
  const messages = [
    { role: "user", content: "Tell me about a brave mouse." },
    { role: "assistant", content: reply.trim() },
    { role: "user", content: "What happened next?" },
  ];
  const second = await post(server, "/v1/chat/completions", { ...request, messages });
  const uncached = await post(noCache, "/v1/chat/completions", { ...request, messages });
  // The prompt, and the reply's tokens but its last (never fed): more than the first prompt's state.
  const firstPrompt = first.json.usage.prompt_tokens;
  expect(second.json.usage.prompt_tokens_details.cached_tokens).toBe(
    firstPrompt + first.json.usage.completion_tokens - 1,
  );
  expect(second.json.choices[0].message.content).toBe(uncached.json.choices[0].message.content);
  expect(uncached.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
});
