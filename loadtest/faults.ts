import { setMaxListeners } from "node:events";
import { MetricsScrape } from "./metrics.js";
import { openSocket, parseResponses, type RawResponse, readUntilClosed, requestBytes } from "./raw-http.js";
import { parseSse } from "./sse-events.js";
import { percentiles, sleep } from "./stats.js";
import { loadAgent, type RequestRecord, streamRequest } from "./stream-client.js";
import { prompt, type Workload } from "./workload.js";

/**
 * Clients that misbehave, and a worker that dies. Each scenario runs against a live server and
 * returns what happened, for the tests (test/reliability) to judge at a small scale and for
 * `npm run loadtest:faults` to report at full scale.
 */

/** An OpenAI error body, or undefined. */
function openAiError(text: string): { code: string | null; type: string } | undefined {
  try {
    const error = JSON.parse(text)?.error;
    if (typeof error?.message === "string" && typeof error?.type === "string") return error;
  } catch {}
  return undefined;
}

/** Waits until no slot is used and nothing runs or waits; returns how long that took (ms), or null. */
export async function waitUntilIdle(url: string, timeoutMs = 10_000): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const metrics = await MetricsScrape.from(url);
    const busy =
      metrics.value("trine_sequence_slots_used") +
      metrics.value("trine_requests_running") +
      metrics.value("trine_requests_waiting");
    if (busy === 0) return performance.now() - started;
    await sleep(20);
  }
  return null;
}

/** A completion that generates until max_tokens (end-of-text biased away). */
function endless(workload: Workload, id: number, maxTokens: number, extra: Record<string, unknown> = {}) {
  return {
    ...workload.completion({ name: "endless", promptWords: 8, maxTokens }),
    prompt: prompt(id, 8),
    ...extra,
  };
}

/** Whether a follow-up request is served normally. */
async function servesNormally(url: string, workload: Workload): Promise<boolean> {
  const response = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(endless(workload, 1, 4)),
  });
  const body = (await response.json()) as { usage?: { completion_tokens: number } };
  return response.status === 200 && body.usage?.completion_tokens === 4;
}

// ---------------------------------------------------------------------------------------------

export interface DisconnectResult {
  readonly clients: number;
  /** Clients that were receiving tokens, and those still waiting for a slot, when all left at once. */
  readonly streaming: number;
  readonly queued: number;
  readonly rejected: number;
  /** From the disconnect to no slot used and nothing running or waiting; null if never. */
  readonly idleAfterMs: number | null;
  /** trine_requests_total{finish_reason="cancelled"} over the scenario. */
  readonly cancelledByMetrics: number;
  readonly errorsByMetrics: number;
  readonly servesAfterwards: boolean;
}

/**
 * `clients` streams; once every one that got a slot is receiving tokens (the rest wait in the
 * queue), all disconnect at the same instant. Their slots must come back and the queue empty.
 */
export async function disconnectMidStream(
  url: string,
  workload: Workload,
  options: { clients: number; maxTokens: number },
): Promise<DisconnectResult> {
  const before = await MetricsScrape.from(url);
  const slots = before.value("trine_sequence_slots_total");
  const agent = loadAgent();
  const leave = new AbortController();
  setMaxListeners(options.clients + 10, leave.signal);
  let streaming = 0;
  let answered = 0;
  const pending: Promise<RequestRecord>[] = [];
  for (let i = 0; i < options.clients; i++) {
    let counted = false;
    pending.push(
      streamRequest(agent, url, "/v1/completions", endless(workload, i, options.maxTokens), {
        signal: leave.signal,
        onHeaders: () => {
          answered++;
        },
        onToken: () => {
          if (!counted) streaming++;
          counted = true;
          return false;
        },
      }),
    );
  }
  const until = performance.now() + 30_000;
  while (streaming < Math.min(slots, options.clients) && performance.now() < until) await sleep(10);
  // Every request has reached the server: streaming, queued, or refused.
  await sleep(200);
  const streamingAtExit = streaming;
  const queued = options.clients - answered;
  leave.abort();
  const disconnected = performance.now();
  const records = await Promise.all(pending);
  const idleAfter = await waitUntilIdle(url);
  const idleAfterMs = idleAfter === null ? null : performance.now() - disconnected;
  await agent.close();
  const after = await MetricsScrape.from(url);
  const delta = (labels: Record<string, string>) =>
    after.value("trine_requests_total", labels) - before.value("trine_requests_total", labels);
  return {
    clients: options.clients,
    streaming: streamingAtExit,
    queued,
    rejected: records.filter((r) => r.outcome === "rejected").length,
    idleAfterMs,
    cancelledByMetrics: delta({ finish_reason: "cancelled" }),
    errorsByMetrics: delta({ finish_reason: "error" }),
    servesAfterwards: await servesNormally(url, workload),
  };
}

// ---------------------------------------------------------------------------------------------

export interface SlowReaderResult {
  /** A reader that takes one read every readEveryMs: did it get every token, in a complete stream? */
  readonly slowStreamComplete: boolean;
  readonly slowStreamTokens: number;
  readonly slowStreamSeconds: number;
  /** A reader that never reads: how long until the server dropped it (null: never), and what it generated meanwhile. */
  readonly stalledDroppedAfterMs: number | null;
  readonly stalledTokensGenerated: number;
  /** Tokens generated in the 5 s before the drop (0: the generation was paused); null if it came sooner. */
  readonly tokensInLast5sBeforeDrop: number | null;
  /** Tokens generated in the 2 s after the drop (0: the generation stopped). */
  readonly tokensAfterDrop: number;
  readonly servesAfterwards: boolean;
}

/**
 * Back-pressure. A slow but steady reader gets its whole stream; a client that never reads, with
 * output far beyond what the sockets buffer (logprobs make each event about 2 KB), has its
 * generation paused once the buffers are full, so the server does not buffer for it, and is
 * dropped once its stream has waited the server's stall timeout, which ends its generation.
 */
export async function slowReaders(
  url: string,
  workload: Workload,
  options: { slowTokens: number; readEveryMs: number; stallLimitMs: number; maxTokens: number },
): Promise<SlowReaderResult> {
  // Slow but steady: a pause after every read, with tiny reads (a small socket buffer would do the same).
  const slowStarted = performance.now();
  const socket = await openSocket(url);
  socket.setNoDelay(true);
  socket.write(
    requestBytes(
      "POST",
      "/v1/completions",
      endless(workload, 7, options.slowTokens, { stream: true, stream_options: { include_usage: true } }),
    ),
  );
  const received: Buffer[] = [];
  socket.pause();
  await new Promise<void>((resolve) => {
    socket.once("close", resolve);
    const tick = setInterval(() => {
      const chunk = socket.read(256) ?? socket.read();
      if (chunk) received.push(chunk);
      // Until the whole response is in (the stream's last chunk, then the chunked terminator).
      if (parseResponses(Buffer.concat(received)).responses.length > 0) {
        clearInterval(tick);
        socket.destroy();
      }
    }, options.readEveryMs);
    socket.once("close", () => clearInterval(tick));
  });
  const slowEvents = parseSse(parseResponses(Buffer.concat(received)).responses[0]?.body ?? "").map(
    (event) => event.data,
  );
  const usage = slowEvents
    .filter((data) => data !== "[DONE]")
    .map((data) => JSON.parse(data).usage)
    .findLast(Boolean);
  const slowStreamTokens = usage?.completion_tokens ?? 0;
  const slowStreamSeconds = (performance.now() - slowStarted) / 1000;

  // Never reads.
  const tokens = (scrape: MetricsScrape) => scrape.value("trine_generation_tokens_total");
  const before = await MetricsScrape.from(url);
  const stalled = await openSocket(url);
  stalled.pause();
  stalled.write(
    requestBytes(
      "POST",
      "/v1/completions",
      endless(workload, 8, options.maxTokens, { stream: true, logprobs: 20 }),
    ),
  );
  const started = performance.now();
  let droppedAfterMs: number | null = null;
  let atDrop = before;
  const history: { at: number; tokens: number }[] = [];
  while (performance.now() - started < options.stallLimitMs) {
    atDrop = await MetricsScrape.from(url);
    history.push({ at: performance.now(), tokens: tokens(atDrop) });
    const cancelled =
      atDrop.value("trine_requests_total", { finish_reason: "cancelled" }) -
      before.value("trine_requests_total", { finish_reason: "cancelled" });
    if (cancelled > 0) {
      droppedAfterMs = performance.now() - started;
      break;
    }
    await sleep(100);
  }
  await sleep(2000);
  const later = await MetricsScrape.from(url);
  stalled.destroy();
  const fiveSecondsBefore = history.findLast((sample) => sample.at <= history.at(-1)!.at - 5000);
  return {
    slowStreamComplete: slowEvents.at(-1) === "[DONE]" && slowStreamTokens === options.slowTokens,
    slowStreamTokens,
    slowStreamSeconds,
    stalledDroppedAfterMs: droppedAfterMs,
    stalledTokensGenerated: tokens(atDrop) - tokens(before),
    tokensInLast5sBeforeDrop:
      droppedAfterMs === null || fiveSecondsBefore === undefined
        ? null
        : tokens(atDrop) - fiveSecondsBefore.tokens,
    tokensAfterDrop: tokens(later) - tokens(atDrop),
    servesAfterwards: (await waitUntilIdle(url)) !== null && (await servesNormally(url, workload)),
  };
}

// ---------------------------------------------------------------------------------------------

export interface TrickleResult {
  /** A request sent a byte at a time: answered normally? */
  readonly byteByByteStatus: number;
  readonly byteByByteSeconds: number;
  readonly byteByByteTokens: number;
}

/** A request whose headers and body arrive one byte at a time, `delayMs` apart. */
export async function byteByByte(url: string, workload: Workload, delayMs: number): Promise<TrickleResult> {
  const started = performance.now();
  const socket = await openSocket(url);
  const bytes = Buffer.from(
    requestBytes("POST", "/v1/completions", endless(workload, 9, 4), { Connection: "close" }),
  );
  const reading = readUntilClosed(socket, 120_000);
  for (const byte of bytes) {
    socket.write(Buffer.from([byte]));
    await sleep(delayMs);
  }
  const { text } = await reading;
  const [response] = parseResponses(Buffer.from(text)).responses;
  const usage = response && /"completion_tokens":(\d+)/.exec(response.body);
  return {
    byteByByteStatus: response?.status ?? 0,
    byteByByteSeconds: (performance.now() - started) / 1000,
    byteByByteTokens: usage ? Number(usage[1]) : 0,
  };
}

// ---------------------------------------------------------------------------------------------

export interface SilentClientsResult {
  readonly connections: number;
  /** Connections the server answered 408 with an OpenAI error and closed. */
  readonly answered408: number;
  /** When the last was closed, from when they opened; null if one never was. */
  readonly lastClosedAfterMs: number | null;
  /** A normal request sent while they all hung on: status and time. */
  readonly normalStatus: number;
  readonly normalMs: number;
}

/**
 * `connections` connections that send nothing, only part of their headers, or headers and part of
 * a body, then stop. The server must time each out (408 and close) while serving others.
 */
export async function silentClients(
  url: string,
  workload: Workload,
  options: { connections: number; waitMs: number },
): Promise<SilentClientsResult> {
  const partial = [
    "",
    "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\n",
    requestBytes("POST", "/v1/completions", endless(workload, 3, 4)).slice(0, -10),
  ];
  const sockets = await Promise.all(Array.from({ length: options.connections }, () => openSocket(url)));
  const outcomes = sockets.map((socket, i) => {
    const outcome = readUntilClosed(socket, options.waitMs);
    if (partial[i % 3]) socket.write(partial[i % 3]);
    return outcome;
  });
  const normalStarted = performance.now();
  const normal = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(endless(workload, 4, 4)),
  });
  await normal.text();
  const normalMs = performance.now() - normalStarted;
  const results = await Promise.all(outcomes);
  const answered408 = results.filter(({ text }) => {
    const [response] = parseResponses(Buffer.from(text)).responses;
    return response?.status === 408 && openAiError(response.body)?.code === "request_timeout";
  }).length;
  const closed = results.map((r) => r.closedAfterMs);
  return {
    connections: options.connections,
    answered408,
    lastClosedAfterMs: closed.includes(null) ? null : Math.max(...(closed as number[])),
    normalStatus: normal.status,
    normalMs,
  };
}

// ---------------------------------------------------------------------------------------------

export interface PipelineResult {
  readonly sent: number;
  /** Answers that came back, in order, each what its request should get. */
  readonly answeredInOrder: number;
  /**
   * Generation requests among them refused with 429: the server handles pipelined requests
   * concurrently (answering in order), so a deep pipeline can ask for more than its slots and queue.
   */
  readonly refused: number;
  readonly seconds: number;
  readonly mismatches: readonly string[];
}

/** `requests` requests of several kinds written back to back on one connection before reading any answer. */
export async function pipelining(url: string, workload: Workload, requests: number): Promise<PipelineResult> {
  const kinds: {
    bytes: string;
    expect: (response: RawResponse) => boolean;
    name: string;
    generates?: boolean;
  }[] = [
    {
      name: "health",
      bytes: requestBytes("GET", "/health"),
      expect: (r) => r.status === 200 && JSON.parse(r.body).status === "ok",
    },
    {
      name: "completion",
      generates: true,
      bytes: requestBytes("POST", "/v1/completions", endless(workload, 5, 4)),
      expect: (r) => r.status === 200 && JSON.parse(r.body).usage.completion_tokens === 4,
    },
    {
      name: "bad request",
      bytes: requestBytes("POST", "/v1/completions", { model: workload.model, prompt: "x", temperature: 9 }),
      expect: (r) => r.status === 400 && openAiError(r.body)?.code === "invalid_value",
    },
    {
      name: "stream",
      generates: true,
      bytes: requestBytes("POST", "/v1/completions", endless(workload, 6, 3, { stream: true })),
      expect: (r) => r.status === 200 && r.body.endsWith("data: [DONE]\n\n"),
    },
    {
      name: "tokenize",
      bytes: requestBytes("POST", "/tokenize", { prompt: "Once upon a time" }),
      expect: (r) => r.status === 200 && JSON.parse(r.body).count > 0,
    },
    {
      name: "models",
      bytes: requestBytes("GET", "/v1/models"),
      expect: (r) => r.status === 200 && JSON.parse(r.body).data[0].id === workload.model,
    },
  ];
  const plan = Array.from({ length: requests }, (_, i) => kinds[i % kinds.length]);
  const started = performance.now();
  const socket = await openSocket(url);
  let received = Buffer.alloc(0);
  const responses: RawResponse[] = [];
  const done = new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      const parsed = parseResponses(Buffer.concat([received, chunk]));
      responses.push(...parsed.responses);
      received = Buffer.from(parsed.rest);
      if (responses.length >= requests) resolve();
    });
    socket.on("close", () => resolve());
  });
  socket.write(plan.map((kind) => kind.bytes).join(""));
  await Promise.race([done, sleep(60_000)]);
  socket.destroy();
  const mismatches: string[] = [];
  let answeredInOrder = 0;
  let refused = 0;
  const isRefusal = (response: RawResponse) =>
    response.status === 429 &&
    response.headers["retry-after"] === "1" &&
    openAiError(response.body) !== undefined;
  for (const [i, kind] of plan.entries()) {
    const response = responses[i];
    let ok = false;
    try {
      ok = response !== undefined && kind.expect(response);
    } catch {}
    if (!ok && response !== undefined && kind.generates && isRefusal(response)) {
      ok = true;
      refused++;
    }
    if (ok) answeredInOrder++;
    else
      mismatches.push(
        `#${i} ${kind.name}: ${response ? `${response.status} ${response.body.slice(0, 80)}` : "no answer"}`,
      );
  }
  return {
    sent: requests,
    answeredInOrder,
    refused,
    seconds: (performance.now() - started) / 1000,
    mismatches,
  };
}

// ---------------------------------------------------------------------------------------------

export interface WorkerKillResult {
  readonly requests: number;
  /** Ended with the worker: an error event in the stream or a 500, code worker_crashed. */
  readonly failedWithWorker: number;
  /** Ran to their end, every token, undisturbed. */
  readonly completed: number;
  /** Anything else: what must never happen. */
  readonly other: readonly string[];
  /** The longest gap between two tokens of a completed stream, ms (the kill must not stall the others). */
  readonly completedMaxGapMs: number;
  readonly completedItlP99Ms: number;
  readonly idleAfterMs: number | null;
  readonly servesAfterwards: boolean;
}

/**
 * `streams` streams and `plain` non-streamed requests spread over the workers; once every stream
 * is under way, one worker thread is stopped. Its requests must end with an error (event or 500),
 * every other request must finish whole, the pool must replace the worker and serve the next one.
 */
export async function workerKill(
  url: string,
  workload: Workload,
  killWorker: () => Promise<void>,
  options: { streams: number; plain: number; maxTokens: number },
): Promise<WorkerKillResult> {
  const agent = loadAgent();
  let underWay = 0;
  const streamRuns = Array.from({ length: options.streams }, (_, i) => {
    let counted = false;
    return streamRequest(agent, url, "/v1/completions", endless(workload, 100 + i, options.maxTokens), {
      onToken: (index) => {
        if (index >= 2 && !counted) {
          counted = true;
          underWay++;
        }
        return false;
      },
    });
  });
  const plainRuns = Array.from({ length: options.plain }, async (_, i) => {
    const response = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(endless(workload, 200 + i, options.maxTokens)),
    });
    return { status: response.status, text: await response.text() };
  });
  const until = performance.now() + 30_000;
  while (underWay < options.streams && performance.now() < until) await sleep(5);
  await killWorker();
  const streamRecords = await Promise.all(streamRuns);
  const plainAnswers = await Promise.all(plainRuns);
  await agent.close();

  let failedWithWorker = 0;
  let completed = 0;
  const other: string[] = [];
  const gaps: number[] = [];
  for (const record of streamRecords) {
    if (record.outcome === "stream_error" && record.errorCode === "worker_crashed") failedWithWorker++;
    else if (record.outcome === "ok" && record.tokens === options.maxTokens) {
      completed++;
      gaps.push(...record.itlMs);
    } else other.push(`stream: ${record.outcome} ${record.errorCode ?? ""} ${record.tokens} tokens`);
  }
  for (const answer of plainAnswers) {
    if (answer.status === 500 && openAiError(answer.text)?.code === "worker_crashed") failedWithWorker++;
    else if (answer.status === 200 && JSON.parse(answer.text).usage.completion_tokens === options.maxTokens)
      completed++;
    else other.push(`plain: ${answer.status} ${answer.text.slice(0, 80)}`);
  }
  const itl = percentiles(gaps);
  return {
    requests: options.streams + options.plain,
    failedWithWorker,
    completed,
    other,
    completedMaxGapMs: itl.max,
    completedItlP99Ms: itl.p99,
    idleAfterMs: await waitUntilIdle(url),
    servesAfterwards: await servesNormally(url, workload),
  };
}
