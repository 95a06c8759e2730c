/**
 * Multiple-choice scoring throughput, as lm-evaluation-harness drives a server (issue 14): each
 * question is a 200-token context with 4 continuations of 10 to 20 tokens, and each choice is
 * one /v1/completions request with the context and the choice as token ids, echo, logprobs 1,
 * max_tokens 1, temperature 0 (local-completions' loglikelihood payload), sent one after another
 * as its default num_concurrent=1 sends them. Two servers in this process on a random packed
 * model of MMfreeLM-370M's shapes (32000 vocab), one with the prefix state cache and one without,
 * take turns question by question, so both see the same machine load; the ratio is per round.
 *
 *   npx tsx loadtest/mc-scoring.ts [--questions=6] [--rounds=3] [--workers=1]
 *   npx tsx loadtest/mc-scoring.ts --concurrent # a question's 4 choices sent at once
 *   npx tsx loadtest/mc-scoring.ts --overhead   # scored vs plain requests, same prompts, no cache
 */
import { randomMmfreelmModel } from "../bench/mmfreelm-model.js";
import { type InProcessServer, startInProcess } from "./in-process.js";

const option = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const QUESTIONS = option("questions", 6);
const ROUNDS = option("rounds", 3);
const WORKERS = option("workers", 1);
/** A question's choices sent at once (num_concurrent=4) instead of one after another. */
const CONCURRENT = process.argv.includes("--concurrent");
const CONTEXT_TOKENS = 200;
const CHOICES = 4;

/** A seeded stream of token ids (no specials: ids 3 to 31999). */
function ids(seed: number, count: number): number[] {
  let state = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return 3 + ((state >>> 0) % 31997);
  });
}

/** Question q of round r: bos, a 200-token context, and four continuations of 10 to 20 tokens. */
function question(round: number, q: number): number[][] {
  const context = [1, ...ids(1000 * round + q + 1, CONTEXT_TOKENS - 1)];
  return Array.from({ length: CHOICES }, (_, c) => [
    ...context,
    ...ids(7919 * (1000 * round + q + 1) + c, 10 + ((q + 3 * c) % 11)),
  ]);
}

/** One choice's request; `scored: false` is the same prompt without echo and logprobs (--overhead). */
async function score(server: InProcessServer, prompt: number[], scored = true): Promise<number> {
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: server.config.modelName,
      prompt,
      ...(scored ? { echo: true, logprobs: 1 } : {}),
      max_tokens: 1,
      temperature: 0,
      seed: 1234,
    }),
  });
  const answer = (await response.json()) as { usage: { prompt_tokens_details: { cached_tokens: number } } };
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${JSON.stringify(answer)}`);
  return answer.usage.prompt_tokens_details.cached_tokens;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const modelDir = randomMmfreelmModel("370M");
const settings = { modelDir, workers: WORKERS, maxSequences: 8 };
const servers = {
  "cache on": await startInProcess({ ...settings, prefixCacheEntries: 64 }),
  "cache off": await startInProcess({ ...settings, prefixCacheEntries: 0 }),
};
const modes = Object.keys(servers) as (keyof typeof servers)[];
// Warm-up: each worker's first steps allocate its scratch.
for (const mode of modes) await score(servers[mode], question(99, 0)[0]);

if (process.argv.includes("--overhead")) {
  // What scoring costs: the same prompts with and without echo + logprobs (every prompt row through
  // lm_head and a log-softmax, against only the last row), on the server without a cache.
  const server = servers["cache off"];
  const seconds = { scored: 0, plain: 0 };
  for (let q = 0; q < QUESTIONS; q++)
    for (const prompt of question(0, q))
      for (const scored of q % 2 === 0 ? [true, false] : [false, true]) {
        const started = performance.now();
        await score(server, prompt, scored);
        seconds[scored ? "scored" : "plain"] += (performance.now() - started) / 1000;
      }
  console.log(
    `scoring overhead, ${QUESTIONS * CHOICES} prompts of ~215 tokens: scored ${(seconds.scored / (QUESTIONS * CHOICES)).toFixed(3)} s, plain ${(seconds.plain / (QUESTIONS * CHOICES)).toFixed(3)} s a request, scored / plain ${(seconds.scored / seconds.plain).toFixed(2)}x`,
  );
  await Promise.all(modes.map((mode) => servers[mode].close()));
  process.exit(0);
}

const rates: Record<string, number[]> = { "cache on": [], "cache off": [] };
const cached: Record<string, number> = { "cache on": 0, "cache off": 0 };
for (let round = 0; round < ROUNDS; round++) {
  const seconds: Record<string, number> = { "cache on": 0, "cache off": 0 };
  for (let q = 0; q < QUESTIONS; q++) {
    // Alternate which server goes first, question by question.
    for (const mode of q % 2 === 0 ? modes : [...modes].reverse()) {
      const started = performance.now();
      if (CONCURRENT) {
        const answers = await Promise.all(question(round, q).map((prompt) => score(servers[mode], prompt)));
        cached[mode] += answers.reduce((sum, tokens) => sum + tokens, 0);
      } else for (const prompt of question(round, q)) cached[mode] += await score(servers[mode], prompt);
      seconds[mode] += (performance.now() - started) / 1000;
    }
  }
  for (const mode of modes) rates[mode].push((QUESTIONS * CHOICES) / seconds[mode]);
  const ratio = rates["cache on"][round] / rates["cache off"][round];
  console.log(
    `round ${round + 1}: ${modes.map((m) => `${m} ${rates[m][round].toFixed(2)} req/s`).join(", ")}, ratio ${ratio.toFixed(2)}`,
  );
}
const ratios = rates["cache on"].map((rate, k) => rate / rates["cache off"][k]);
console.log(
  `\n${QUESTIONS} questions x ${CHOICES} choices x ${ROUNDS} rounds, ${CONTEXT_TOKENS}-token contexts, 370M shapes, ${WORKERS} worker(s), choices ${CONCURRENT ? "at once" : "one after another"}:`,
);
for (const mode of modes)
  console.log(
    `  ${mode}: median ${median(rates[mode]).toFixed(2)} requests/s, ${cached[mode]} prompt tokens from the cache`,
  );
console.log(`  cache on / off, same round: median ${median(ratios).toFixed(2)}x`);
await Promise.all(modes.map((mode) => servers[mode].close()));
