// Drives a running Trine container the way a user would, with the official OpenAI client.
// Called by smoke-test.sh; prints one line per check and exits non-zero on the first failure.
//
//   node exercise-server.mjs check BASE_URL API_KEY
//     /v1/models, a completion, a streamed chat completion, a rejected key, /metrics (every
//     metric of the server contract, and every trine_* name that the shipped dashboard and
//     alert rules query).
//   node exercise-server.mjs drain BASE_URL API_KEY EOS_TOKEN_IDS
//     streams a completion of about DRAIN_STREAM_SECONDS, printing STREAMING once the first
//     token arrives (the smoke test then stops the container), and checks that the server then
//     reports draining on /ready, refuses a new request with 503, and lets the stream run to its
//     full length: SIGTERM drains running streams rather than cutting them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";

const [mode, baseUrl, apiKey, eosArg = ""] = process.argv.slice(2);
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Long enough for `podman stop` to arrive mid-stream, short enough for a quick test. */
const DRAIN_STREAM_SECONDS = 8;

/** The metric families the server promises (docs/DEPLOY.md); all carry a `model` label. */
const CONTRACT_METRICS = [
  "trine_time_to_first_token_seconds",
  "trine_inter_token_latency_seconds",
  "trine_e2e_request_latency_seconds",
  "trine_request_queue_time_seconds",
  "trine_request_prefill_time_seconds",
  "trine_prompt_tokens_total",
  "trine_generation_tokens_total",
  "trine_requests_total",
  "trine_request_failures_total",
  "trine_prefix_cache_queries_total",
  "trine_prefix_cache_hits_total",
  "trine_worker_restarts_total",
  "trine_requests_running",
  "trine_requests_waiting",
  "trine_sequence_slots_used",
  "trine_sequence_slots_total",
  "trine_generation_tokens_per_second",
  "trine_memory_bytes",
  "trine_model_weight_bytes",
  "trine_build_info",
];

/** Files whose PromQL must only name metrics the server exports. */
const QUERYING_FILES = [
  "deploy/grafana/dashboards/trine.json",
  "deploy/prometheus/alerts.yaml",
  "deploy/kubernetes/components/keda/scaledobject.yaml",
  "deploy/kubernetes/components/prometheus-adapter/adapter-rules.yaml",
];

function pass(message) {
  console.log(`ok   ${message}`);
}

function fail(message) {
  console.log(`FAIL ${message}`);
  process.exit(1);
}

function expect(condition, message) {
  if (!condition) fail(message);
  pass(message);
}

const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });

async function modelId() {
  const models = await client.models.list();
  expect(models.data.length === 1, `GET /v1/models lists one model (${models.data[0]?.id})`);
  return models.data[0].id;
}

async function check() {
  const model = await modelId();

  const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 16 });
  const choice = completion.choices[0];
  expect(
    typeof choice.text === "string" && completion.usage.completion_tokens > 0,
    `POST /v1/completions: ${completion.usage.completion_tokens} tokens, finish_reason ${choice.finish_reason}`,
  );

  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: "Tell me a story." }],
    max_tokens: 24,
    stream: true,
    stream_options: { include_usage: true },
  });
  let chunks = 0;
  let text = "";
  let finishReason;
  let usage;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? "";
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    usage = chunk.usage ?? usage;
  }
  expect(
    chunks > 2 && finishReason && usage?.completion_tokens > 0,
    `POST /v1/chat/completions stream: ${chunks} chunks, ${usage?.completion_tokens} tokens, ` +
      `finish_reason ${finishReason}, ${JSON.stringify(text.slice(0, 40))}`,
  );

  const stranger = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "not-a-key", maxRetries: 0 });
  const status = await stranger.completions.create({ model, prompt: "x", max_tokens: 1 }).then(
    () => 200,
    (error) => error.status,
  );
  expect(status === 401, `a wrong API key is refused (${status})`);

  // The playground (issue 15): its page and assets come from the image (dist/ui), with no key.
  const page = await fetch(`${baseUrl}/`);
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]);
  const loaded = await Promise.all(assets.map((asset) => fetch(`${baseUrl}${asset}`).then((r) => r.status)));
  expect(
    page.status === 200 && assets.length > 0 && loaded.every((code) => code === 200),
    `GET / serves the playground without a key, with its ${assets.length} assets (${page.status}, ${loaded})`,
  );

  const response = await fetch(`${baseUrl}/metrics`);
  const exposition = await response.text();
  const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]));
  const missing = CONTRACT_METRICS.filter((name) => !exported.has(name));
  expect(
    response.ok && missing.length === 0,
    `GET /metrics exports all ${CONTRACT_METRICS.length} contract metrics${missing.length ? `; missing ${missing}` : ""}`,
  );

  const queried = new Set();
  for (const file of QUERYING_FILES) {
    for (const match of readFileSync(`${repoRoot}${file}`, "utf8").matchAll(/\btrine_[a-z0-9_]+/g)) {
      queried.add(match[0].replace(/_(bucket|sum|count)$/, ""));
    }
  }
  const unknown = [...queried].filter((name) => !exported.has(name));
  expect(
    unknown.length === 0,
    `the dashboard, alerts and autoscalers query only exported metrics${unknown.length ? `; unknown ${unknown}` : ""}`,
  );

  const generated = exposition.match(/^trine_generation_tokens_total\{[^}]*\} (\S+)$/m);
  expect(
    Number(generated?.[1]) > 0,
    `trine_generation_tokens_total counted the requests (${generated?.[1]})`,
  );
}

async function drain() {
  const model = await modelId();
  // No end-of-sequence token, so that the stream's length is max_tokens, set from a measured rate.
  const logitBias = Object.fromEntries(
    eosArg
      .split(",")
      .filter(Boolean)
      .map((id) => [id, -100]),
  );
  const started = performance.now();
  const probe = await client.completions.create({
    model,
    prompt: "Once",
    max_tokens: 512,
    logit_bias: logitBias,
  });
  const tokensPerSecond = probe.usage.completion_tokens / ((performance.now() - started) / 1000);
  const maxTokens = Math.max(256, Math.min(100_000, Math.round(tokensPerSecond * DRAIN_STREAM_SECONDS)));

  const stream = await client.completions.create({
    model,
    prompt: "Once upon a time",
    max_tokens: maxTokens,
    logit_bias: logitBias,
    stream: true,
    stream_options: { include_usage: true },
  });
  let streaming = true;
  let watcher;
  let firstAt;
  let finishReason;
  let usage;
  for await (const chunk of stream) {
    if (firstAt === undefined) {
      firstAt = performance.now();
      console.log("STREAMING");
      watcher = watchDraining(model, () => streaming);
    }
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    usage = chunk.usage ?? usage;
  }
  streaming = false;
  const seconds = ((performance.now() - firstAt) / 1000).toFixed(1);
  const { drainingSeenMidStream, newRequestStatus } = await watcher;
  expect(drainingSeenMidStream, "after SIGTERM, mid-stream, /ready answers 503 draining");
  expect(newRequestStatus === 503, `a new request while draining is refused (${newRequestStatus})`);
  expect(
    finishReason === "length" && usage?.completion_tokens === maxTokens,
    `the stream running at SIGTERM finished whole: ${usage?.completion_tokens}/${maxTokens} tokens over ${seconds} s, finish_reason ${finishReason}`,
  );
}

/**
 * Polls /ready while the stream runs, until the server says it is draining (the smoke test sends
 * SIGTERM when it reads STREAMING); then tries a new request, which must be refused.
 */
async function watchDraining(model, isStreaming) {
  while (isStreaming()) {
    const response = await fetch(`${baseUrl}/ready`).catch(() => undefined);
    const body = response?.status === 503 ? await response.json().catch(() => ({})) : undefined;
    if (body?.error?.code === "draining") {
      const drainingSeenMidStream = isStreaming();
      const newRequestStatus = await client.completions.create({ model, prompt: "x", max_tokens: 1 }).then(
        () => 200,
        (error) => error.status ?? error.constructor.name,
      );
      return { drainingSeenMidStream, newRequestStatus };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { drainingSeenMidStream: false, newRequestStatus: "never seen draining" };
}

try {
  if (mode === "check") await check();
  else if (mode === "drain") await drain();
  else fail(`unknown mode ${mode}`);
} catch (error) {
  fail(`${error?.constructor?.name}: ${error?.message}`);
}
