/**
 * Time to first token, turn by turn, of a 20-turn conversation whose first turn is ~1,500 tokens
 * and later turns ~50 (issue 13), three ways, in one run so the ratios are same-run:
 *   (a) the Responses API with previous_response_id: the stored state covers the history;
 *   (b) chat completions resending the whole history, with the prefix cache (the reply's state);
 *   (c) the same with the cache off: every turn prefills the whole conversation;
 * beside a fresh 50-token prompt's TTFT. TTFT is the server's own (its request log line):
 * arrival to first token, so (a) includes reading the stored response, re-rendering and
 * tokenizing the conversation. Then the store itself: bytes per stored response, write and read
 * latency p50/p99 and records per second of each backend (Redis when redis-server is installed).
 *
 *   npm run bench:conversation                         # the shipped model and 370M shapes
 *   npm run bench:conversation -- --models=storyteller --turns=20 --every=1
 *   npm run bench:conversation -- --models=none        # the stores alone
 *   npm run bench:conversation -- --json > run.json
 *   npm run bench:conversation -- --chart-from=run.json   # docs/conversation-ttft.svg from a run
 *
 * (c) is the slow one (a whole-history prefill per turn), so by default it is measured at turns
 * 1, 5, 10, 15 and 20 only (--every=5); (a) and (b) at every turn.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BLUE, chartSvg, GREEN, ORANGE, type Panel, RED } from "../loadtest/chart.js";
import { type InProcessServer, startInProcess } from "../loadtest/in-process.js";
import { REPO_ROOT } from "../loadtest/server.js";
import { DEFAULT_MODEL_DIR } from "../src/model/default-model.js";
import { openStateStore, type StoreLocation } from "../src/store/state-store.js";
import { encodeStoredResponse } from "../src/store/stored-response.js";
import { randomMmfreelmModel } from "./mmfreelm-model.js";

const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const json = process.argv.includes("--json");
const turns = Number(option("turns") ?? 20);
const every = Number(option("every") ?? 5);
// --models=none measures the stores alone.
const models = (option("models") ?? "storyteller,370M").split(",").filter((name) => name !== "none");
const log = (line: string) => {
  if (!json) console.log(line);
};

const FIRST_TURN_TOKENS = 1500;
const LATER_TURN_TOKENS = 50;
const REPLY_TOKENS = 16;

function modelDir(name: string): string {
  if (name === "storyteller") return DEFAULT_MODEL_DIR;
  if (name !== "370M") throw new Error(`unknown model ${name}`);
  return randomMmfreelmModel("370M", log);
}

// biome-ignore lint/suspicious/noExplicitAny: the benchmark reads answers loosely; the tests check their shapes.
type Answer = Record<string, any>;

async function post(server: InProcessServer, path: string, body: unknown): Promise<Answer> {
  const answer = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const parsed = (await answer.json()) as Answer;
  if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** The TTFT of the server's last generation request, from its log line. */
function lastTtft(server: InProcessServer): number {
  const line = server.logs.findLast(
    (entry) => entry.msg === "request" && entry.timeToFirstTokenSeconds != null,
  );
  return (line!.timeToFirstTokenSeconds as number) * 1000;
}

/** Text of about `tokens` tokens, cut from the held-out book at `from` words. */
async function textOf(
  server: InProcessServer,
  words: string[],
  from: number,
  tokens: number,
): Promise<string> {
  let count = Math.round(tokens * 0.7);
  for (;;) {
    if (from + count > words.length) throw new Error("not enough text for the conversation");
    const text = words.slice(from, from + count).join(" ");
    const counted = (await post(server, "/tokenize", { prompt: text, add_special_tokens: false }))
      .count as number;
    if (counted >= tokens) return text;
    count = Math.ceil(count * (tokens / Math.max(counted, 1)) + 1);
  }
}

interface ModelFigures {
  model: string;
  ttftMs: { turn: number; responses: number; chatCached: number; chatUncached: number | null }[];
  freshFiftyTokenMs: number;
  cachedTokensAtLastTurn: number;
  inputTokensAtLastTurn: number;
  storedBytesPerResponse: number;
}

async function measureModel(name: string): Promise<ModelFigures> {
  const dir = modelDir(name);
  const storeDir = mkdtempSync(join(tmpdir(), "trine-bench-store-"));
  const settings = {
    modelDir: dir,
    workers: 1,
    logLevel: "info" as const,
    maxPromptTokens: 8192,
    maxOutputTokens: 64,
  };
  // Three servers, so that no way benefits from another's cached states.
  const stored = await startInProcess({ ...settings, stateStore: { kind: "lmdb", directory: storeDir } });
  const cached = await startInProcess(settings);
  const uncached = await startInProcess({ ...settings, prefixCacheEntries: 0 });
  const model = cached.config.modelName;
  try {
    // The held-out Peter Rabbit (330 words), repeated: real prose, enough of it for every turn.
    const book = readFileSync(join(REPO_ROOT, "test", "fixtures", "heldout-peter-rabbit.txt"), "utf8").split(
      /\s+/,
    );
    const words = Array.from({ length: 40 }, () => book).flat();
    const inputs = [await textOf(cached, words, 0, FIRST_TURN_TOKENS)];
    for (let turn = 1; turn < turns; turn++)
      inputs.push(await textOf(cached, words, 1200 + turn * 60, LATER_TURN_TOKENS));
    const sampling = { temperature: 0, max_output_tokens: REPLY_TOKENS };

    const ttftMs: ModelFigures["ttftMs"] = [];
    const history: { role: string; content: string }[] = [];
    let previous: string | undefined;
    let last: Answer = {};
    for (let turn = 1; turn <= turns; turn++) {
      const input = inputs[turn - 1];
      last = await post(stored, "/v1/responses", {
        model,
        input,
        previous_response_id: previous,
        ...sampling,
      });
      const responses = lastTtft(stored);
      previous = last.id;
      const messages = [...history, { role: "user", content: input }];
      const chatBody = { model, messages, temperature: 0, max_tokens: REPLY_TOKENS };
      const chat = await post(cached, "/v1/chat/completions", chatBody);
      const chatCached = lastTtft(cached);
      let chatUncached: number | null = null;
      if (turn === 1 || turn % every === 0) {
        await post(uncached, "/v1/chat/completions", chatBody);
        chatUncached = lastTtft(uncached);
      }
      // Chat UIs send the reply back as shown; the default template frames it with its own space.
      history.push(
        { role: "user", content: input },
        { role: "assistant", content: chat.choices[0].message.content.trim() },
      );
      ttftMs.push({ turn, responses, chatCached, chatUncached });
      log(
        `  ${name} turn ${String(turn).padStart(2)}: input ${String(last.usage.input_tokens).padStart(5)} tokens, ` +
          `(a) responses ${responses.toFixed(1).padStart(7)} ms (cached ${last.usage.input_tokens_details.cached_tokens}), ` +
          `(b) chat + cache ${chatCached.toFixed(1).padStart(7)} ms` +
          (chatUncached === null ? "" : `, (c) chat, no cache ${chatUncached.toFixed(1).padStart(8)} ms`),
      );
    }
    // A fresh 50-token prompt, no cache, on the warmed-up server: what (a) is measured against.
    const fresh: number[] = [];
    for (let i = 0; i < 5; i++) {
      await post(uncached, "/v1/responses", { model, input: inputs[1 + i], store: false, ...sampling });
      fresh.push(lastTtft(uncached));
    }
    const freshFiftyTokenMs = fresh.sort((a, b) => a - b)[2];
    const written = await stored.metric("trine_state_store_written_bytes_total");
    const writes = await stored.metric("trine_state_store_operations_total", {
      operation: "write",
      outcome: "ok",
    });
    return {
      model: name,
      ttftMs,
      freshFiftyTokenMs,
      cachedTokensAtLastTurn: last.usage.input_tokens_details.cached_tokens,
      inputTokensAtLastTurn: last.usage.input_tokens,
      storedBytesPerResponse: Math.round(written / writes),
    };
  } finally {
    await stored.close();
    await cached.close();
    await uncached.close();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
};

interface StoreFigures {
  backend: string;
  recordBytes: number;
  writeP50Ms: number;
  writeP99Ms: number;
  readP50Ms: number;
  readP99Ms: number;
  recordsPerSecond: number;
}

/** One backend with records shaped as a 370M response: a 96 KiB state, 2,000 token ids, the text. */
async function measureStore(backend: string, location: StoreLocation): Promise<StoreFigures> {
  const store = await openStateStore(location, { maxBytes: 1 << 30, ttlMs: 86_400_000 });
  const record = encodeStoredResponse({
    id: "resp_bench",
    owner: null,
    model: "370M",
    response: { id: "resp_bench", output: [{ content: [{ text: "x".repeat(400) }] }] },
    inputItems: [{ id: "msg_bench", content: [{ text: "y".repeat(200) }] }],
    conversation: Array.from({ length: 40 }, (_, i) => ({
      role: i % 2 ? "assistant" : "user",
      content: "z".repeat(200),
    })),
    state: {
      fingerprint: "f".repeat(64),
      tokens: new Uint32Array(2000).map((_, i) => i),
      values: new Float32Array(24 * 1024).map(Math.random),
    },
  } as never);
  const writes: number[] = [];
  const reads: number[] = [];
  const count = 300;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await store.put(`bench-${i}`, record);
    writes.push(performance.now() - started);
  }
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await store.get(`bench-${(i * 7) % count}`);
    reads.push(performance.now() - started);
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => store.put(`bench-c-${i}`, record)));
  const recordsPerSecond = count / ((performance.now() - started) / 1000);
  for (let i = 0; i < count; i++) {
    await store.delete(`bench-${i}`);
    await store.delete(`bench-c-${i}`);
  }
  await store.close();
  return {
    backend,
    recordBytes: record.byteLength,
    writeP50Ms: percentile(writes, 0.5),
    writeP99Ms: percentile(writes, 0.99),
    readP50Ms: percentile(reads, 0.5),
    readP99Ms: percentile(reads, 0.99),
    recordsPerSecond,
  };
}

interface Results {
  models: ModelFigures[];
  stores: StoreFigures[];
}

/** docs/conversation-ttft.svg: TTFT per turn, one panel per model, the three ways and the 50-token line. */
async function writeChart(results: Results, path: string): Promise<void> {
  const panels: Panel[] = results.models.map((figures) => ({
    title: figures.model === "370M" ? "370M shapes" : "shipped model (8 x 640)",
    xLabel: "turn",
    yLabel: "time to first token, ms",
    xScale: "linear",
    logY: true,
    series: [
      {
        label: "(a) previous_response_id",
        color: BLUE,
        points: figures.ttftMs.map((t) => ({ x: t.turn, y: t.responses })),
      },
      {
        label: "(b) chat, history resent, prefix cache",
        color: GREEN,
        points: figures.ttftMs.map((t) => ({ x: t.turn, y: t.chatCached })),
      },
      {
        label: "(c) chat, history resent, no cache",
        color: RED,
        points: figures.ttftMs.flatMap((t) =>
          t.chatUncached === null ? [] : [{ x: t.turn, y: t.chatUncached }],
        ),
      },
      {
        label: "a fresh 50-token prompt",
        color: ORANGE,
        points: [
          { x: 1, y: figures.freshFiftyTokenMs },
          { x: figures.ttftMs.length, y: figures.freshFiftyTokenMs },
        ],
      },
    ],
  }));
  const subtitle = `first turn ~${FIRST_TURN_TOKENS} tokens, later turns ~${LATER_TURN_TOKENS}, replies ${REPLY_TOKENS}; npm run bench:conversation`;
  writeFileSync(path, await chartSvg("Time to first token, turn by turn", subtitle, panels));
}

const chartFrom = option("chart-from");
if (chartFrom) {
  const path = join(REPO_ROOT, "docs", "conversation-ttft.svg");
  await writeChart(JSON.parse(readFileSync(chartFrom, "utf8")) as Results, path);
  console.log(`wrote ${path}`);
  process.exit(0);
}

const results: Results = { models: [], stores: [] };
for (const name of models) {
  log(
    `${name}: ${turns} turns, first ~${FIRST_TURN_TOKENS} tokens, later ~${LATER_TURN_TOKENS}, replies ${REPLY_TOKENS}`,
  );
  const figures = await measureModel(name);
  results.models.push(figures);
  const final = figures.ttftMs.at(-1)!;
  log(
    `  ${name} at turn ${turns}: (a) ${final.responses.toFixed(1)} ms = ${(final.responses / figures.freshFiftyTokenMs).toFixed(2)}x a fresh 50-token prompt (${figures.freshFiftyTokenMs.toFixed(1)} ms)` +
      (final.chatUncached === null
        ? ""
        : `; (c) / (a) = ${(final.chatUncached / final.responses).toFixed(1)}x`) +
      `; stored response ${(figures.storedBytesPerResponse / 1024).toFixed(1)} KiB`,
  );
}

const storeDir = mkdtempSync(join(tmpdir(), "trine-bench-lmdb-"));
const backends: [string, StoreLocation][] = [
  ["memory", { kind: "memory" }],
  ["lmdb", { kind: "lmdb", directory: storeDir }],
];
let redis: { url: string; stop(): Promise<void> } | undefined;
try {
  const { startRedisServer } = await import("../loadtest/redis-server.js");
  redis = await startRedisServer();
  backends.push(["redis", { kind: "redis", url: redis.url }]);
} catch {
  log("redis-server not available: Redis not measured");
}
for (const [name, location] of backends) {
  const figures = await measureStore(name, location);
  results.stores.push(figures);
  log(
    `store ${name.padEnd(6)}: ${(figures.recordBytes / 1024).toFixed(1)} KiB records, write p50 ${figures.writeP50Ms.toFixed(3)} / p99 ${figures.writeP99Ms.toFixed(3)} ms, ` +
      `read p50 ${figures.readP50Ms.toFixed(3)} / p99 ${figures.readP99Ms.toFixed(3)} ms, ${figures.recordsPerSecond.toFixed(0)} records/s concurrent`,
  );
}
await redis?.stop();
rmSync(storeDir, { recursive: true, force: true });
if (json) console.log(JSON.stringify(results, null, 2));
