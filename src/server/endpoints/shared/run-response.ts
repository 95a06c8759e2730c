import { randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { TokenLogprobs } from "../../../engine/sampling/index.js";
import type { FinishReason } from "../../../generation/batch-generator.js";
import type { PromptTokenLogprobs } from "../../../generation/prompt-scoring.js";
import type { ChoiceEvent } from "../../../scheduler/choice-events.js";
import type { GenerationRequest, RequestRun } from "../../../scheduler/request-run.js";
import { clientGone, errorBody, internalError, toApiError } from "../../errors.js";
import { SseStream } from "../../sse.js";
import type { Usage } from "./schema.js";

/**
 * What completions and chat share once a request's specs exist: admission tied to the client's
 * connection, usage, and the two ways of answering: one JSON body, or a stream of chunks.
 */

export function responseId(prefix: "cmpl" | "chatcmpl"): string {
  return `${prefix}-${randomUUID().replaceAll("-", "")}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Admits the request. A client that disconnects while its request waits leaves the queue, and one
 * that disconnects while it runs cancels its sequences, which frees their slots at the workers'
 * next step. A run's slots are also held until its answer is delivered (DeliveredSlots), which the
 * response closing settles whatever happened.
 */
export async function startRun(
  generation: GenerationRequest,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<RequestRun> {
  const clientLeft = new AbortController();
  let run: RequestRun | undefined;
  reply.raw.on("close", () => {
    run?.markDelivered();
    if (reply.raw.writableFinished) return;
    clientLeft.abort(clientGone());
    run?.cancel();
  });
  request.trace?.queueStarted();
  run = await request.server.trine.scheduler.generate(
    request.trace ? { ...generation, timed: true } : generation,
    request.arrivedAt,
    clientLeft.signal,
    request.log,
  );
  request.generation = run;
  if (clientLeft.signal.aborted) {
    run.cancel();
    run.markDelivered();
  }
  return run;
}

export function usageOf(run: RequestRun): Usage {
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
  /** A scored prompt's positions (specs with promptLogprobs). */
  promptLogprobs?: readonly (PromptTokenLogprobs | null)[];
  /** The logprobs of the stop token that ended it, when logprobs were asked for. */
  stopLogprobs?: TokenLogprobs;
}

/** Runs every choice to its end, for a non-streamed answer. */
export async function collectChoices(run: RequestRun): Promise<CollectedChoice[]> {
  const choices = Array.from(
    { length: run.choiceCount },
    (): CollectedChoice => ({ text: "", logprobs: [], finishReason: "length" }),
  );
  for await (const event of run) {
    const choice = choices[event.index];
    choice.text += event.text;
    if (event.logprobs) choice.logprobs.push(event.logprobs);
    if (event.finishReason) choice.finishReason = event.finishReason;
    if (event.promptLogprobs) choice.promptLogprobs = event.promptLogprobs;
    if (event.stopLogprobs) choice.stopLogprobs = event.stopLogprobs;
  }
  return choices;
}

/** How one endpoint spells its stream. */
export interface StreamFormat<Chunk> {
  /** Chunks before any token: chat's role deltas, completions' echoed prompts. */
  opening(): Chunk[];
  /** Chunks for one event; none for an event with nothing to show. */
  event(event: ChoiceEvent): Chunk[];
  /** The include_usage chunk, or null without one. */
  usage: ((usage: Usage) => Chunk) | null;
  /** The chunk schema's serialiser (responseSerializer). */
  serialize(chunk: Chunk): string;
  /** Awaited after the last event, before the usage chunk and [DONE] (chat's reply state write). */
  finished?: () => Promise<void>;
}

/**
 * Streams a run. The response is taken over from Fastify (hijacked) so that each chunk is
 * written when it is made; Fastify still logs the request once the response closes.
 */
export async function streamRun<Chunk>(
  run: RequestRun,
  request: FastifyRequest,
  reply: FastifyReply,
  format: StreamFormat<Chunk>,
): Promise<void> {
  const { trine } = request.server;
  reply.hijack();
  const sse = new SseStream(reply.raw, reply.getHeaders(), trine.sseKeepAliveMs, trine.sseStallTimeoutMs);
  const { trace } = request;
  trace?.streamStarted();
  const send = (chunk: Chunk) => {
    trace?.chunkSent();
    return sse.send(format.serialize(chunk));
  };
  try {
    for (const chunk of format.opening()) await send(chunk);
    for await (const event of run) {
      for (const chunk of format.event(event)) await send(chunk);
    }
    await format.finished?.();
    if (format.usage) await send(format.usage(usageOf(run)));
    await sse.done();
  } catch (error) {
    const apiError = toApiError(error);
    if (!apiError) request.log.error({ err: error }, "streaming failed");
    const answer = apiError ?? internalError(request.id);
    if (answer.failureReason) trine.scheduler.metrics.requestFailed(answer.failureReason);
    await sse.fail(errorBody(answer));
  } finally {
    trace?.streamEnded();
  }
}
