/**
 * Requests to every endpoint whose answers are recorded in recorded-outputs.json: greedy and
 * seeded sampling, every sampling field, n > 1, logprobs, echo, stop strings, streams, and the
 * refusals. The recording was made before the one-request-model restructuring; the test replays
 * it and demands the same bytes (ids and timestamps aside), so a refactor cannot change an answer.
 */
export interface RecordedRequest {
  readonly name: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: unknown;
}

const completion = (name: string, body: Record<string, unknown>): RecordedRequest => ({
  name,
  method: "POST",
  path: "/v1/completions",
  body: { model: "recorded", ...body },
});
const chat = (name: string, body: Record<string, unknown>): RecordedRequest => ({
  name,
  method: "POST",
  path: "/v1/chat/completions",
  body: { model: "recorded", ...body },
});
const messages = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Tell me about a brave mouse." },
];

export const RECORDED_REQUESTS: readonly RecordedRequest[] = [
  completion("completion greedy", { prompt: "Once upon a time", max_tokens: 20, temperature: 0 }),
  completion("completion seeded", {
    prompt: "Once upon a time",
    max_tokens: 24,
    temperature: 0.8,
    top_p: 0.9,
    top_k: 40,
    seed: 7,
  }),
  completion("completion every sampling field, n=3, two prompts", {
    prompt: ["The cat", "A dog ran"],
    n: 3,
    max_tokens: 16,
    temperature: 1.1,
    min_p: 0.05,
    repetition_penalty: 1.2,
    presence_penalty: 0.5,
    frequency_penalty: 0.3,
    logit_bias: { "100": 5, "200": -100 },
    seed: 11,
  }),
  completion("completion logprobs", { prompt: "Hello", max_tokens: 8, temperature: 1, seed: 1, logprobs: 3 }),
  completion("completion greedy logprobs", { prompt: "Hello", max_tokens: 8, temperature: 0, logprobs: 0 }),
  completion("completion echo and stop", {
    prompt: "Once",
    max_tokens: 30,
    seed: 3,
    echo: true,
    stop: ["e", "th"],
  }),
  completion("completion unseeded greedy default sampling off", {
    prompt: "x",
    max_tokens: 4,
    temperature: 0,
  }),
  completion("completion stream", {
    prompt: "Once upon a time",
    max_tokens: 12,
    seed: 5,
    logprobs: 2,
    stream: true,
    stream_options: { include_usage: true },
  }),
  completion("completion stream echo n=2", {
    prompt: "Once",
    max_tokens: 6,
    seed: 9,
    n: 2,
    echo: true,
    stream: true,
  }),
  chat("chat greedy", { messages, max_tokens: 20, temperature: 0 }),
  chat("chat seeded logprobs n=2", {
    messages,
    max_completion_tokens: 10,
    seed: 21,
    n: 2,
    logprobs: true,
    top_logprobs: 2,
  }),
  chat("chat stream", {
    messages: [{ role: "user", content: [{ type: "text", text: "Tell me a story." }] }],
    max_tokens: 10,
    seed: 4,
    stream: true,
    stream_options: { include_usage: true },
  }),
  chat("chat stop and penalties", {
    messages,
    max_tokens: 25,
    seed: 8,
    stop: "o",
    repetition_penalty: 1.3,
    frequency_penalty: 1,
  }),
  { name: "models", method: "GET", path: "/v1/models" },
  { name: "model", method: "GET", path: "/v1/models/recorded" },
  { name: "tokenize prompt", method: "POST", path: "/tokenize", body: { prompt: "Once upon a time" } },
  { name: "tokenize messages", method: "POST", path: "/tokenize", body: { messages } },
  { name: "detokenize", method: "POST", path: "/detokenize", body: { tokens: [300, 301, 302, 5] } },
  { name: "health", method: "GET", path: "/health" },
  { name: "ready", method: "GET", path: "/ready" },
  completion("error unknown field", { prompt: "x", frobnicate: 1 }),
  completion("error temperature", { prompt: "x", temperature: 3 }),
  completion("error temperature type", { prompt: "x", temperature: "hot" }),
  completion("error logit_bias key", { prompt: "x", logit_bias: { "07": 1 } }),
  completion("error top_p", { prompt: "x", top_p: 0 }),
  completion("error max_tokens", { prompt: "x", max_tokens: 0 }),
  completion("error n", { prompt: "x", n: 1000 }),
  completion("error best_of", { prompt: "x", n: 2, best_of: 1 }),
  chat("error echo with logprobs", { messages, echo: true, logprobs: true }),
  completion("completion empty prompt (bos only)", { prompt: "", max_tokens: 5, temperature: 0 }),
  completion("error stop", { prompt: "x", stop: ["a", ""] }),
  { name: "error model", method: "POST", path: "/v1/completions", body: { model: "nope", prompt: "x" } },
  { name: "error missing prompt", method: "POST", path: "/v1/completions", body: { model: "recorded" } },
  chat("error tools", {
    messages,
    tools: [{ type: "function", function: { name: "f" } }],
    tool_choice: { type: "function", function: { name: "g" } },
  }),
  chat("error response_format", {
    messages,
    response_format: { type: "json_schema", json_schema: { name: "bad", schema: { type: "strnig" } } },
  }),
  chat("error top_logprobs without logprobs", { messages, top_logprobs: 2 }),
  chat("error role", { messages: [{ role: "robot", content: "x" }] }),
  { name: "error 404", method: "GET", path: "/v1/nothing" },
];

/**
 * Ids and timestamps differ on every run, and so does how the events of a stream's choices
 * interleave (each choice's own order does not): everything else must not.
 */
export function normalise(text: string): string {
  const events = text.split("\n\n");
  if (events.length > 2 && events[0].startsWith("data: ")) {
    const choiceOf = (event: string) => /"choices":\[\{"index":(\d+)/.exec(event)?.[1] ?? "~";
    text = events
      .map((event, order) => ({ event, order, choice: choiceOf(event) }))
      .sort((a, b) => (a.choice === b.choice ? a.order - b.order : a.choice < b.choice ? -1 : 1))
      .map(({ event }) => event)
      .join("\n\n");
  }
  return text
    .replace(/"id":"(cmpl|chatcmpl)-[0-9a-f]{32}"/g, '"id":"$1-ID"')
    .replace(/"created":\d+/g, '"created":0')
    .replace(/request id [\w-]+/g, "request id ID");
}
