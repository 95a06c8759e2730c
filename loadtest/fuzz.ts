import fc from "fast-check";
import { Agent, request } from "undici";
import {
  MAX_LOGIT_BIAS_MAGNITUDE,
  MAX_PENALTY_MAGNITUDE,
  MAX_STOP_STRING_LENGTH,
  MAX_STOP_STRINGS,
  MAX_TEMPERATURE,
} from "../src/engine/sampling/index.js";
import { MAX_CHOICES } from "../src/server/endpoints/shared/schema.js";

/**
 * Bad-input fuzzing: property-based requests to every JSON endpoint, built by fast-check from
 * valid requests with fields replaced by values of any type and size (huge and tiny numbers,
 * random unicode and random bytes, very long stop lists, ids out of the vocabulary, unknown
 * fields), plus bodies that are not JSON at all. The property: every answer is a valid
 * completion (or tokenize/detokenize answer) or a well-formed OpenAI error object, never a 500,
 * never a stack trace, and it comes within CASE_TIMEOUT_MS.
 */

/** Longest a case may take: the server's limits make every valid case small (see FUZZ_SERVER_FLAGS). */
export const CASE_TIMEOUT_MS = 30_000;

/** The server's --max-body-bytes default. */
const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** The server the fuzzer needs: short outputs, so that valid cases stay cheap. */
export const FUZZ_SERVER_FLAGS = { "--max-output-tokens": 16, "--max-sequences": 16 } as const;

export interface FuzzCase {
  readonly path: "/v1/completions" | "/v1/chat/completions" | "/tokenize" | "/detokenize";
  /** A JSON value to send, or raw bytes. */
  readonly body: { readonly json: unknown } | { readonly raw: Uint8Array };
  readonly contentType: string | null;
}

export interface Answer {
  /** 0: the connection failed before an answer was read (see `transportError`). */
  readonly status: number;
  readonly transportError: string | null;
  /** Bytes sent. */
  readonly bodyBytes: number;
  readonly contentType: string;
  readonly text: string;
  readonly ms: number;
}

// ---------------------------------------------------------------------------------------------
// Values

const edgeNumbers = fc.constantFrom(
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  2,
  2.0000001,
  -2.5,
  20,
  21,
  100,
  100.5,
  101,
  -100,
  -101,
  128,
  129,
  4096,
  4097,
  8191,
  8192,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 63,
  2 ** 64,
  1e21,
  1e308,
  -1e308,
  5e-324,
  -5e-324,
  1e-7,
);
const anyNumber = fc.oneof(edgeNumbers, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));

const edgeStrings = fc.constantFrom(
  "",
  " ",
  "\u0000",
  "\ud800",
  "\udfff",
  "\ufeff",
  "\u202e",
  "storyteller",
  "null",
  "0",
  "-1",
  "1e3",
  "<|bos|>",
  "<|eos|>",
  "\n\n",
  "Once upon a time",
  "__proto__",
  "constructor",
  "%s%n%x",
  "\\",
);
/** Random unicode, including lone surrogates, and random bytes read as latin-1 or as lossy UTF-8. */
const randomText = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: "grapheme", maxLength }),
    fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes).toString("latin1")),
    fc.uint8Array({ maxLength }).map((bytes) => new TextDecoder().decode(bytes)),
  );
const anyString = fc.oneof(edgeStrings, randomText(64));

const anyScalar = fc.oneof(anyNumber, anyString, fc.boolean(), fc.constant(null));
/** Any JSON value, of any type, shallow. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyScalar },
  { weight: 1, arbitrary: fc.array(anyScalar, { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.dictionary(anyString, anyScalar, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

// ---------------------------------------------------------------------------------------------
// Requests: a plausible body, then none to three of its fields (or an unknown one) replaced by a
// hostile value, and sometimes a required field removed.

const texts = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("Once upon a time", "The fox", "A") },
  { weight: 2, arbitrary: randomText(400) },
);
/** Prompts over the prompt limit, and around and over the body limit (1 MiB). */
const hugeText = fc.constantFrom(20_000, 70_000, 300_000, 1_100_000).map((n) => "Once ".repeat(n / 5));

const message = fc.record(
  {
    role: fc.constantFrom("system", "developer", "user", "assistant"),
    content: fc.oneof(
      texts,
      fc.constant(null),
      fc.array(fc.record({ type: fc.constant("text"), text: texts }), { minLength: 1, maxLength: 3 }),
    ),
  },
  { requiredKeys: ["role"] },
);

interface BodyShape {
  readonly required: Record<string, fc.Arbitrary<unknown>>;
  readonly optional: Record<string, fc.Arbitrary<unknown>>;
  /** Hostile values worth trying for particular fields, beyond any value of any type. */
  readonly hostile: Record<string, fc.Arbitrary<unknown>>;
}

const samplingShape: BodyShape = {
  required: {},
  optional: {
    temperature: fc.double({ min: 0, max: MAX_TEMPERATURE, noNaN: true }),
    top_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
    top_k: fc.integer({ min: 0, max: 100 }),
    min_p: fc.double({ min: 0, max: 1, noNaN: true }),
    repetition_penalty: fc.double({ min: 0.5, max: 2, noNaN: true }),
    presence_penalty: fc.double({ min: -MAX_PENALTY_MAGNITUDE, max: MAX_PENALTY_MAGNITUDE, noNaN: true }),
    frequency_penalty: fc.double({ min: -MAX_PENALTY_MAGNITUDE, max: MAX_PENALTY_MAGNITUDE, noNaN: true }),
    n: fc.integer({ min: 1, max: 3 }),
    stop: fc.oneof(texts, fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 4 })),
    seed: fc.integer(),
    logit_bias: fc.dictionary(
      fc.integer({ min: 0, max: 8191 }).map(String),
      fc.integer({ min: -MAX_LOGIT_BIAS_MAGNITUDE, max: MAX_LOGIT_BIAS_MAGNITUDE }),
      {
        maxKeys: 4,
      },
    ),
    stream: fc.boolean(),
    stream_options: fc.record({ include_usage: fc.boolean() }, { requiredKeys: [] }),
    user: fc.string(),
    metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
    store: fc.boolean(),
    service_tier: fc.constantFrom("auto", "default"),
  },
  hostile: {
    stop: fc.oneof(
      fc.array(fc.string({ maxLength: MAX_STOP_STRING_LENGTH + 44 }), {
        minLength: MAX_STOP_STRINGS + 1,
        maxLength: 3000,
      }),
      fc.array(randomText(600), { maxLength: MAX_STOP_STRINGS }),
    ),
    logit_bias: fc.dictionary(fc.oneof(fc.integer({ min: -2, max: 9000 }).map(String), anyString), anyValue, {
      maxKeys: 6,
    }),
    seed: edgeNumbers,
    n: fc.constantFrom(0, 33, 64, MAX_CHOICES, MAX_CHOICES + 1, 1e9),
    top_k: fc.constantFrom(-1, 8191, 8192, 8193, 2 ** 31),
  },
};

function merge(...shapes: BodyShape[]): BodyShape {
  return {
    required: Object.assign({}, ...shapes.map((shape) => shape.required)),
    optional: Object.assign({}, ...shapes.map((shape) => shape.optional)),
    hostile: Object.assign({}, ...shapes.map((shape) => shape.hostile)),
  };
}

const completionShape = merge(samplingShape, {
  required: {
    prompt: fc.oneof({ weight: 5, arbitrary: texts }, fc.array(texts, { minLength: 1, maxLength: 4 })),
  },
  optional: {
    max_tokens: fc.integer({ min: 1, max: 16 }),
    logprobs: fc.integer({ min: 0, max: 5 }),
    echo: fc.boolean(),
    best_of: fc.constant(1),
    suffix: fc.constant(null),
  },
  hostile: {
    prompt: fc.oneof(hugeText, randomText(4000), fc.array(randomText(40), { minLength: 1, maxLength: 200 })),
    max_tokens: edgeNumbers,
  },
});

const chatShape = merge(samplingShape, {
  required: { messages: fc.array(message, { minLength: 1, maxLength: 4 }) },
  optional: {
    max_completion_tokens: fc.integer({ min: 1, max: 16 }),
    max_tokens: fc.integer({ min: 1, max: 16 }),
    logprobs: fc.boolean(),
    top_logprobs: fc.integer({ min: 0, max: 5 }),
    response_format: fc.constant({ type: "text" }),
    tools: fc.constant([]),
    tool_choice: fc.constant("none"),
    modalities: fc.constant(["text"]),
    parallel_tool_calls: fc.boolean(),
  },
  hostile: {
    messages: fc.oneof(
      fc.array(
        fc.record(
          { role: anyValue, content: fc.oneof(anyValue, hugeText), name: anyValue, tool_calls: anyValue },
          {
            requiredKeys: [],
          },
        ),
        { maxLength: 4 },
      ),
      fc.array(message, { minLength: 500, maxLength: 2000 }),
      fc.constant([{ role: "user", content: [{ type: "image_url", image_url: { url: "http://x" } }] }]),
    ),
    response_format: fc.record({ type: anyString }),
    tool_choice: anyValue,
  },
});

const tokenizeShape = (input: "prompt" | "messages"): BodyShape => ({
  required:
    input === "prompt" ? { prompt: texts } : { messages: fc.array(message, { minLength: 1, maxLength: 3 }) },
  optional:
    input === "prompt" ? { add_special_tokens: fc.boolean() } : { add_generation_prompt: fc.boolean() },
  hostile: { prompt: fc.oneof(hugeText, randomText(4000)), messages: chatShape.hostile.messages },
});

/** Ids in and out of the storyteller vocabulary (8192). */
const tokenId = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 8191 }) },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), edgeNumbers) },
);
const detokenizeShape: BodyShape = {
  required: { tokens: fc.array(fc.integer({ min: 0, max: 8191 }), { maxLength: 64 }) },
  optional: {},
  hostile: {
    tokens: fc.oneof(
      fc.array(tokenId, { minLength: 1, maxLength: 64 }),
      fc.array(tokenId, { minLength: 5000, maxLength: 20_000 }),
      fc.array(anyScalar, { maxLength: 8 }),
    ),
  },
};

function body(model: string, shape: BodyShape): fc.Arbitrary<Record<string, unknown>> {
  const fields = ["model", ...Object.keys(shape.required), ...Object.keys(shape.optional)];
  const mutation = fc.oneof(
    fc
      .constantFrom(...fields)
      .chain((name) =>
        fc.tuple(fc.constant(name), shape.hostile[name] ? fc.oneof(shape.hostile[name], anyValue) : anyValue),
      ),
    fc.tuple(anyString, anyValue),
  );
  return fc
    .tuple(
      fc.record(shape.required),
      fc.record(shape.optional, { requiredKeys: [] }),
      fc.oneof(
        { weight: 2, arbitrary: fc.constant([]) },
        { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
      ),
      fc.oneof(
        { weight: 14, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom("model", ...Object.keys(shape.required)) },
      ),
    )
    .map(([required, optional, mutations, dropped]) => {
      const out: Record<string, unknown> = { model, ...required, ...optional };
      for (const [name, value] of mutations) out[name] = value;
      if (dropped) delete out[dropped];
      return out;
    });
}

const PATHS = ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"] as const;

/** Bodies that are not a JSON object: bytes, broken or hostile JSON, other media types. */
const rawBody = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc
    .constantFrom(
      "",
      " ",
      "{",
      '{"model": "storyteller", "prompt": "Once',
      "null",
      "[]",
      '"a string"',
      "1e999",
      "\ufeff{}",
      '{"__proto__": {"stream": true}, "model": "storyteller", "prompt": "x"}',
      '{"constructor": {"prototype": {"n": 64}}, "model": "storyteller", "prompt": "x"}',
      `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
      `{"model": "storyteller", "prompt": "x", "metadata": ${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`,
    )
    .map((text) => new TextEncoder().encode(text)),
);

export function fuzzCases(model: string): fc.Arbitrary<FuzzCase> {
  const json = (path: FuzzCase["path"], shape: BodyShape) =>
    body(model, shape).map(
      (value): FuzzCase => ({ path, body: { json: value }, contentType: "application/json" }),
    );
  return fc.oneof(
    { weight: 5, arbitrary: json("/v1/completions", completionShape) },
    { weight: 4, arbitrary: json("/v1/chat/completions", chatShape) },
    { weight: 1, arbitrary: json("/tokenize", tokenizeShape("prompt")) },
    { weight: 1, arbitrary: json("/tokenize", tokenizeShape("messages")) },
    { weight: 2, arbitrary: json("/detokenize", detokenizeShape) },
    {
      weight: 1,
      arbitrary: fc.record({
        path: fc.constantFrom(...PATHS),
        body: fc.oneof(
          rawBody.map((raw) => ({ raw })),
          anyValue.map((value) => ({ json: value })),
        ),
        contentType: fc.constantFrom(
          "application/json",
          "application/json; charset=utf-8",
          "application/json; charset=latin1",
          "text/plain",
          "multipart/form-data; boundary=x",
          null,
        ),
      }),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Sending and judging

export async function send(agent: Agent, baseUrl: string, fuzzCase: FuzzCase): Promise<Answer> {
  const started = performance.now();
  const payload = Buffer.from(
    "json" in fuzzCase.body ? (JSON.stringify(fuzzCase.body.json) ?? "") : fuzzCase.body.raw,
  );
  try {
    const response = await request(`${baseUrl}${fuzzCase.path}`, {
      method: "POST",
      headers: fuzzCase.contentType === null ? {} : { "content-type": fuzzCase.contentType },
      body: payload,
      dispatcher: agent,
      headersTimeout: CASE_TIMEOUT_MS,
      bodyTimeout: CASE_TIMEOUT_MS,
    });
    const text = await response.body.text();
    return {
      status: response.statusCode,
      transportError: null,
      bodyBytes: payload.length,
      contentType: String(response.headers["content-type"] ?? ""),
      text,
      ms: performance.now() - started,
    };
  } catch (error) {
    const code = (error as { code?: string }).code ?? String(error);
    return {
      status: 0,
      transportError: code,
      bodyBytes: payload.length,
      contentType: "",
      text: "",
      ms: performance.now() - started,
    };
  }
}

/** What a stack trace or a source location looks like in a body. */
export const STACK_TRACE = /\n\s+at |\bat [\w.<>]+ \(|\.[cm]?[jt]s:\d+:\d+|node_modules|node:internal/;
const isInteger = (value: unknown) => Number.isInteger(value) && (value as number) >= 0;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** What is wrong with an answer; empty when it is a valid answer or a well-formed error. */
export function problems(
  fuzzCase: FuzzCase,
  answer: Answer,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
): string[] {
  const found: string[] = [];
  if (answer.status === 0) {
    // A body over the limit is refused (413) while it is still being sent; the server then closes
    // the connection, and the client may see its write fail before it reads the answer.
    const refusedUpload =
      answer.bodyBytes > maxBodyBytes && /EPIPE|ECONNRESET|UND_ERR_SOCKET/.test(answer.transportError!);
    return refusedUpload ? [] : [`no answer: ${answer.transportError}`];
  }
  if (answer.status >= 500) found.push(`status ${answer.status}`);
  if (STACK_TRACE.test(answer.text)) found.push("a stack trace or source path in the body");
  if (answer.ms > CASE_TIMEOUT_MS) found.push(`took ${answer.ms} ms`);
  if (answer.status !== 200) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      return [...found, `status ${answer.status} with a body that is not JSON`];
    }
    const error = isObject(parsed) ? parsed.error : undefined;
    const wellFormed =
      isObject(parsed) &&
      Object.keys(parsed).length === 1 &&
      isObject(error) &&
      typeof error.message === "string" &&
      error.message.length > 0 &&
      typeof error.type === "string" &&
      (error.param === null || typeof error.param === "string") &&
      (error.code === null || typeof error.code === "string");
    if (!wellFormed) found.push(`status ${answer.status} without an OpenAI error object`);
    if (![400, 404, 413, 415, 429].includes(answer.status)) found.push(`unexpected status ${answer.status}`);
    return found;
  }
  if (answer.contentType.startsWith("text/event-stream"))
    return [...found, ...streamProblems(fuzzCase, answer.text)];
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    return [...found, "a 200 whose body is not JSON"];
  }
  if (!isObject(parsed)) return [...found, "a 200 whose body is not an object"];
  switch (fuzzCase.path) {
    case "/tokenize":
      if (
        !(
          Array.isArray(parsed.tokens) &&
          parsed.tokens.every(isInteger) &&
          parsed.count === parsed.tokens.length
        )
      )
        found.push("a tokenize answer without integer tokens and their count");
      break;
    case "/detokenize":
      if (typeof parsed.prompt !== "string") found.push("a detokenize answer without a prompt string");
      break;
    default:
      found.push(...completionProblems(fuzzCase, parsed, false));
  }
  return found;
}

function completionProblems(fuzzCase: FuzzCase, answer: Record<string, unknown>, chunk: boolean): string[] {
  const found: string[] = [];
  const chat = fuzzCase.path === "/v1/chat/completions";
  const object = chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  if (answer.object !== object) found.push(`object is ${JSON.stringify(answer.object)}, not ${object}`);
  if (typeof answer.id !== "string" || !isInteger(answer.created) || typeof answer.model !== "string")
    found.push("id, created or model missing");
  if (!Array.isArray(answer.choices)) return [...found, "no choices array"];
  for (const choice of answer.choices as unknown[]) {
    if (!isObject(choice) || !isInteger(choice.index)) {
      found.push("a choice without an index");
      continue;
    }
    const text = chat
      ? chunk
        ? (choice.delta as Record<string, unknown>)?.content
        : (choice.message as Record<string, unknown>)?.content
      : choice.text;
    if (!(typeof text === "string" || (chunk && text === undefined))) found.push("a choice without its text");
    const finish = choice.finish_reason;
    if (!(finish === "stop" || finish === "length" || (chunk && finish === null)))
      found.push(`finish_reason ${JSON.stringify(finish)}`);
  }
  const usage = answer.usage;
  if (!chunk || usage != null) {
    if (!isObject(usage) || !isInteger(usage.prompt_tokens) || !isInteger(usage.completion_tokens))
      found.push("no usage");
    else if (usage.total_tokens !== (usage.prompt_tokens as number) + (usage.completion_tokens as number))
      found.push("usage.total_tokens is not the sum");
  }
  return found;
}

function streamProblems(fuzzCase: FuzzCase, text: string): string[] {
  if (!text.endsWith("\n\n")) return ["a stream that does not end with a blank line"];
  const events = text
    .slice(0, -2)
    .split("\n\n")
    .filter((event) => !event.startsWith(":"));
  const found: string[] = [];
  for (const [i, event] of events.entries()) {
    const last = i === events.length - 1;
    if (!event.startsWith("data: ")) return [...found, `an event that is not data: ${event.slice(0, 40)}`];
    const data = event.slice("data: ".length);
    if (data === "[DONE]") {
      if (!last) found.push("[DONE] before the end");
      continue;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return [...found, "an event that is not JSON"];
    }
    if (!isObject(chunk)) return [...found, "an event that is not an object"];
    if ("error" in chunk) {
      found.push(`an error event: ${JSON.stringify(chunk.error)}`);
      continue;
    }
    found.push(...completionProblems(fuzzCase, chunk, true));
    if (last) found.push("a stream without [DONE]");
  }
  return found;
}

export interface FuzzReport {
  readonly cases: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly slowestMs: number;
  readonly seed: number;
}

/**
 * Runs `runs` cases against a server (one at a time, so that a case's answer is its own doing)
 * and throws fast-check's report, with the smallest failing case, if any answer has a problem.
 */
export async function fuzz(options: {
  readonly baseUrl: string;
  readonly model: string;
  readonly runs: number;
  readonly seed?: number;
  readonly onProgress?: (done: number) => void;
}): Promise<FuzzReport> {
  const agent = new Agent({ connections: 4, headersTimeout: CASE_TIMEOUT_MS, bodyTimeout: CASE_TIMEOUT_MS });
  const byStatus: Record<string, number> = {};
  let cases = 0;
  let slowestMs = 0;
  const seed = options.seed ?? Date.now() % 2 ** 31;
  try {
    await fc.assert(
      fc.asyncProperty(fuzzCases(options.model), async (fuzzCase) => {
        const answer = await send(agent, options.baseUrl, fuzzCase);
        cases++;
        byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
        slowestMs = Math.max(slowestMs, answer.ms);
        if (cases % 500 === 0) options.onProgress?.(cases);
        const found = problems(fuzzCase, answer);
        if (found.length > 0)
          throw new Error(`${found.join("; ")}\nanswer ${answer.status}: ${answer.text.slice(0, 500)}`);
      }),
      { numRuns: options.runs, seed, endOnFailure: false },
    );
  } finally {
    await agent.close();
  }
  return { cases, byStatus, slowestMs, seed };
}
