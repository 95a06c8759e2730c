import { randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { TokenLogprobs } from "../engine/sampling/index.js";
import type { FinishReason } from "../generation/batch-generator.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { ClientGoneError, internalError, toApiError } from "./errors.js";
import type { ChoiceEvent, GenerationPlan, GenerationRun, GenerationService } from "./generation-service.js";
import type { ChatLogprobs, ChatTokenLogprob, CompletionLogprobs, Usage } from "./protocol.js";
import { SseStream } from "./sse.js";

/**
 * What completions and chat share once a plan exists: admission tied to the client's
 * connection, usage, logprobs in both OpenAI spellings, and the two ways of answering: one JSON
 * body, or a stream of chunks.
 */

export function responseId(prefix: "cmpl" | "chatcmpl"): string {
  return `${prefix}-${randomUUID().replaceAll("-", "")}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Admits the plan. A client that disconnects while its request waits leaves the queue, and one
 * that disconnects while it runs cancels its sequences, which frees their slots at the workers'
 * next step. A run's slots are also held until its answer is delivered (GenerationRun), which the
 * response closing settles whatever happened.
 */
export async function startGeneration(
  service: GenerationService,
  plan: GenerationPlan,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<GenerationRun> {
  const clientGone = new AbortController();
  let run: GenerationRun | undefined;
  reply.raw.on("close", () => {
    run?.markDelivered();
    if (reply.raw.writableFinished) return;
    clientGone.abort(new ClientGoneError());
    run?.cancel();
  });
  run = await service.generate(plan, request.arrivedAt, clientGone.signal, request.log);
  request.generation = run;
  if (clientGone.signal.aborted) {
    run.cancel();
    run.markDelivered();
  }
  return run;
}

export function usageOf(run: GenerationRun): Usage {
  return {
    prompt_tokens: run.promptTokens,
    completion_tokens: run.completionTokens,
    total_tokens: run.promptTokens + run.completionTokens,
    prompt_tokens_details: { cached_tokens: run.cachedTokens },
  };
}

export interface CollectedChoice {
  text: string;
  /** The tokens whose logprobs belong to the output (stop tokens excluded). */
  logprobs: TokenLogprobs[];
  finishReason: FinishReason;
}

/** Runs every choice to its end, for a non-streamed answer. */
export async function collectChoices(run: GenerationRun): Promise<CollectedChoice[]> {
  const choices = Array.from(
    { length: run.choiceCount },
    (): CollectedChoice => ({
      text: "",
      logprobs: [],
      finishReason: "length",
    }),
  );
  for await (const event of run) {
    const choice = choices[event.index];
    choice.text += event.text;
    if (event.logprobs) choice.logprobs.push(event.logprobs);
    if (event.finishReason) choice.finishReason = event.finishReason;
  }
  return choices;
}

/** A token as the logprobs fields show it: its own decoded text. */
function tokenText(tokenizer: Tokenizer, id: number): string {
  return tokenizer.decode([id], { skipSpecialTokens: false });
}

/** The completions spelling; offsets count characters from `textOffset` (the echoed prompt). */
export function completionLogprobs(
  tokenizer: Tokenizer,
  logprobs: readonly TokenLogprobs[],
  textOffset: number,
): CompletionLogprobs {
  const result: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = textOffset;
  for (const entry of logprobs) {
    const text = tokenText(tokenizer, entry.token);
    result.tokens.push(text);
    result.token_logprobs.push(entry.logprob);
    const top: Record<string, number> = {};
    // Two tokens may decode alike; the more likely one keeps the key.
    for (const alternative of entry.topLogprobs)
      top[tokenText(tokenizer, alternative.token)] ??= alternative.logprob;
    result.top_logprobs.push(top);
    result.text_offset.push(offset);
    offset += text.length;
  }
  return result;
}

/** The chat spelling. */
export function chatLogprobs(tokenizer: Tokenizer, logprobs: readonly TokenLogprobs[]): ChatLogprobs {
  const encoder = new TextEncoder();
  const entry = (token: number, logprob: number) => {
    const text = tokenText(tokenizer, token);
    return { token: text, logprob, bytes: [...encoder.encode(text)] };
  };
  return {
    content: logprobs.map(
      (item): ChatTokenLogprob => ({
        ...entry(item.token, item.logprob),
        top_logprobs: item.topLogprobs.map((alternative) => entry(alternative.token, alternative.logprob)),
      }),
    ),
    refusal: null,
  };
}

/** How one endpoint spells its stream. */
export interface StreamFormat {
  /** Chunks before any token: chat's role deltas, completions' echoed prompts. */
  opening(): unknown[];
  /** Chunks for one event; none for an event with nothing to show. */
  event(event: ChoiceEvent): unknown[];
  /** The include_usage chunk. */
  usage(usage: Usage): unknown;
}

/**
 * Streams a run. The response is taken over from Fastify (hijacked) so that each chunk is
 * written when it is made; Fastify still logs the request once the response closes.
 */
export async function streamRun(
  run: GenerationRun,
  request: FastifyRequest,
  reply: FastifyReply,
  format: StreamFormat,
  includeUsage: boolean,
  keepAliveMs: number,
): Promise<void> {
  reply.hijack();
  const sse = new SseStream(
    reply.raw,
    reply.getHeaders(),
    keepAliveMs,
    request.server.trine.sseStallTimeoutMs,
  );
  try {
    for (const chunk of format.opening()) await sse.send(chunk);
    for await (const event of run) {
      for (const chunk of format.event(event)) await sse.send(chunk);
    }
    if (includeUsage) await sse.send(format.usage(usageOf(run)));
    await sse.done();
  } catch (error) {
    const apiError = toApiError(error);
    if (!apiError) request.log.error({ err: error }, "streaming failed");
    const answer = apiError ?? internalError(request.id);
    if (answer.failureReason) request.server.trine.service.metrics.requestFailed(answer.failureReason);
    await sse.fail(answer.toBody());
  }
}
