import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyBaseLogger } from "fastify";
import type { SamplingParams, TokenLogprobs } from "../engine/sampling/index.js";
import type { FinishReason } from "../generation/batch-generator.js";
import { generationDefaults } from "../model/generation-defaults.js";
import { loadModel } from "../model/loaded-model.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { AdmissionScheduler, type SlotLease } from "../workers/admission.js";
import type { TokenMessage } from "../workers/messages.js";
import { GenerationPool, type RunningSequence } from "../workers/pool.js";
import { PrefixStateCache } from "../workers/prefix-cache.js";
import { PromptTokenizer } from "../workers/prompt-tokenizer.js";
import { ChatTemplate } from "./chat-template.js";
import type { ServerConfig } from "./config.js";
import { type ApiError, ServiceUnavailableError, toApiError } from "./errors.js";
import { type RequestFinishReason, ServerMetrics } from "./metrics.js";
import { trineVersion } from "./version.js";

/**
 * The main thread's side of generation: the loaded model, the worker pool, admission and the
 * prefix state cache, and one GenerationRun per admitted request that turns the workers'
 * per-sequence messages into one ordered stream of choice events with timings and usage. The
 * routes only translate between this and the OpenAI wire format.
 */

/** What the routes need of the model. */
export interface ServedModel {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  /** Tokenizes prompts, long ones off the event loop. */
  readonly promptTokenizer: PromptTokenizer;
  readonly vocabSize: number;
  /** The longest text any one token stands for, in UTF-8 bytes (see checkPromptText). */
  readonly maxTokenBytes: number;
  readonly eosTokenIds: readonly number[];
  /** Sampling defaults from generation_config.json; a request's own values win. */
  readonly defaults: SamplingParams;
  readonly chatTemplate: ChatTemplate;
  /** Unix seconds the model was loaded. */
  readonly created: number;
}

export interface PromptInput {
  readonly ids: readonly number[];
  /** Further prompt lengths worth caching the state at, e.g. the end of a chat's system message. */
  readonly prefixHints: readonly number[];
}

export interface GenerationPlan {
  readonly prompts: readonly PromptInput[];
  /** Choices per prompt; choice i of a prompt samples with seed + i when a seed is given. */
  readonly n: number;
  /** Validated (validateSamplingParams). */
  readonly params: SamplingParams;
  readonly maxTokens: number;
  readonly stopStrings: readonly string[];
  readonly stopTokenIds: readonly number[];
}

export interface ChoiceEvent {
  /** prompt index x n + choice index, as OpenAI numbers choices. */
  readonly index: number;
  readonly text: string;
  /** null unless asked for, and for a stop token (its text is not part of the output). */
  readonly logprobs: TokenLogprobs | null;
  readonly finishReason: FinishReason | null;
}

/** The per-request figures for the log line and the usage object. */
export interface RunSummary {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly queueSeconds: number;
  readonly timeToFirstTokenSeconds: number | null;
  readonly totalSeconds: number;
  readonly finishReasons: readonly (RequestFinishReason | null)[];
}

export type ServicePhase = "loading" | "ready" | "draining" | "stopped";

/** How often a drain checks whether the last request has finished. */
const DRAIN_POLL_MS = 50;

const seconds = (fromMs: number, toMs = performance.now()) => (toMs - fromMs) / 1000;

export class GenerationService {
  readonly metrics: ServerMetrics;
  readonly admission: AdmissionScheduler;
  private phase: ServicePhase = "loading";
  private served?: ServedModel;
  private pool?: GenerationPool;
  private promptTokenizer?: PromptTokenizer;
  private readonly prefixCache: PrefixStateCache;
  private readonly runs = new Set<GenerationRun>();
  private weightBytes = 0;

  constructor(
    private readonly config: ServerConfig,
    private readonly log: FastifyBaseLogger,
  ) {
    this.admission = new AdmissionScheduler({
      slots: config.workers * config.maxSequences,
      queueLength: config.queueLength,
      queueTimeoutMs: config.queueTimeoutMs,
    });
    this.prefixCache = new PrefixStateCache(config.prefixCacheEntries);
    this.metrics = new ServerMetrics(config.modelName, {
      requestsRunning: () => this.admission.running,
      requestsWaiting: () => this.admission.waiting,
      slotsUsed: () => this.admission.slotsUsed,
      slotsTotal: () => this.admission.limits.slots,
      modelWeightBytes: () => this.weightBytes,
    });
  }

  get state(): ServicePhase {
    return this.phase;
  }

  /** The worker pool, once started (tests stop a worker through it to check recovery). */
  get workerPool(): GenerationPool | undefined {
    return this.pool;
  }

  /** Loads the model and starts the workers; until then generation answers 503. */
  async start(): Promise<void> {
    const { config, log } = this;
    const started = performance.now();
    const loaded = loadModel(config.modelDir);
    const chatTemplate = ChatTemplate.forModel(config.modelDir, loaded.tokenizerConfig, loaded.tokenizer);
    this.weightBytes = loaded.weights.views.buffer.byteLength;
    this.pool = await GenerationPool.start({
      model: loaded.model,
      modelDir: config.modelDir,
      workers: config.workers,
      maxSequences: config.maxSequences,
      kernel: config.kernel,
      log: (message) => log.info(message),
      onWorkerRestart: () => {
        log.error("a worker thread died; Piscina starts a replacement");
        this.metrics.workerRestarted();
      },
    });
    if (this.phase !== "loading") {
      // Shut down while loading: nothing was served, nothing to keep.
      await this.pool.destroy();
      return;
    }
    this.promptTokenizer = PromptTokenizer.start(config.modelDir, loaded.tokenizer);
    this.metrics.setBuildInfo(trineVersion(), this.pool.kernel);
    this.served = {
      name: config.modelName,
      tokenizer: loaded.tokenizer,
      promptTokenizer: this.promptTokenizer,
      vocabSize: loaded.model.config.vocabSize,
      maxTokenBytes: maxTokenBytes(loaded.tokenizer),
      eosTokenIds: loaded.eosTokenIds,
      defaults: generationDefaults(loaded.generationConfig),
      chatTemplate,
      created: Math.floor(Date.now() / 1000),
    };
    this.phase = "ready";
    log.info(
      {
        model: config.modelName,
        dir: config.modelDir,
        weightBytes: this.weightBytes,
        kernel: this.pool.kernel,
        workers: config.workers,
        sequenceSlots: this.admission.limits.slots,
        loadSeconds: seconds(started),
      },
      "model ready",
    );
  }

  /** The model, or 503 while loading or shutting down. */
  model(): ServedModel {
    if (this.phase === "ready") return this.served!;
    if (this.phase === "loading") throw new ServiceUnavailableError("The model is still loading.", "loading");
    throw new ServiceUnavailableError("The server is shutting down.", "draining");
  }

  /**
   * Waits for slots (one per choice), then starts every choice on the workers. Throws the
   * admission errors (429), 503 when draining, or the signal's reason when the client leaves
   * while waiting.
   */
  async generate(
    plan: GenerationPlan,
    arrivedAt: number,
    signal: AbortSignal,
    /** The request's logger, so that what goes wrong in the run is logged under its id. */
    log: FastifyBaseLogger = this.log,
  ): Promise<GenerationRun> {
    this.model();
    const sequences = plan.prompts.length * plan.n;
    const lease = await this.admission.acquire(sequences, signal);
    if (this.phase === "stopped") {
      lease.releaseAll();
      throw new ServiceUnavailableError("The server is shutting down.", "draining");
    }
    const promptTokens = plan.prompts.reduce((sum, prompt) => sum + prompt.ids.length, 0);
    this.metrics.requestAdmitted(seconds(arrivedAt), promptTokens);
    const run = new GenerationRun(plan, arrivedAt, lease, {
      pool: this.pool!,
      prefixCache: this.prefixCache,
      metrics: this.metrics,
      log,
      deadlineMs: this.config.requestTimeoutMs,
    });
    this.runs.add(run);
    void run.finished.then(() => this.runs.delete(run));
    return run;
  }

  /**
   * Stops taking generation requests and waits up to `gracePeriodMs` for those running or
   * queued to finish; any left then end with a 503 error (in their stream, if it started).
   */
  async drain(gracePeriodMs: number): Promise<void> {
    if (this.phase === "loading" || this.phase === "ready") this.phase = "draining";
    const until = performance.now() + gracePeriodMs;
    while ((this.runs.size > 0 || this.admission.waiting > 0) && performance.now() < until)
      await sleep(DRAIN_POLL_MS);
    this.phase = "stopped";
    const shutdown = new ServiceUnavailableError(
      "The server shut down before this request finished.",
      "draining",
    );
    this.admission.refuseWaiting(shutdown);
    for (const run of this.runs) run.abort(shutdown);
  }

  async close(): Promise<void> {
    this.phase = "stopped";
    await Promise.all([this.pool?.destroy(), this.promptTokenizer?.close()]);
  }
}

/**
 * The most UTF-8 bytes of text one token can stand for: the longest decoded token, special
 * tokens included (they are matched in text). A byte-level piece that is not whole UTF-8 decodes
 * to U+FFFD, three bytes for at most three, so this is never short.
 */
function maxTokenBytes(tokenizer: Tokenizer): number {
  let longest = 1;
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (tokenizer.idToToken(id) === undefined) continue;
    const bytes = Buffer.byteLength(tokenizer.decode([id], { skipSpecialTokens: false }));
    if (bytes > longest) longest = bytes;
  }
  return longest;
}

interface RunContext {
  readonly pool: GenerationPool;
  readonly prefixCache: PrefixStateCache;
  readonly metrics: ServerMetrics;
  readonly log: FastifyBaseLogger;
  readonly deadlineMs: number;
}

interface ChoiceState {
  readonly index: number;
  sequence?: RunningSequence;
  finishReason: RequestFinishReason | null;
  lastTokenAt: number | null;
  /** Its events not yet taken by the consumer. */
  backlog: number;
  /** Its worker has been asked to leave it out of the steps until the consumer catches up. */
  paused: boolean;
}

/**
 * Back-pressure from the consumer to the worker: a choice whose consumer (for a stream, the
 * client's socket) has PAUSE_BACKLOG events it has not taken is paused at its worker, and resumed
 * once the backlog is down to RESUME_BACKLOG. So a client that reads slower than the model writes
 * costs at most a few dozen events of memory, however long its generation, and a paused sequence
 * takes no step time from the others.
 */
const PAUSE_BACKLOG = 64;
const RESUME_BACKLOG = 16;

/**
 * One admitted request: its choices running on the workers, their events in arrival order, and
 * its timings. Consumed with `for await`; the loop throws if the request fails (a worker died,
 * shutdown), after the events that came before the failure.
 *
 * A choice's slot comes back once its worker has let go of it and the answer has been delivered:
 * the consumer's loop has ended (for a stream, every token event has been written to the socket)
 * or the client has gone. So a client that reads slowly holds back admission instead of letting
 * finished output pile up in memory, one request after another, while its slot serves others.
 * Within a request, a choice whose events are not being taken is paused (PAUSE_BACKLOG).
 */
export class GenerationRun {
  /** prompts x n. */
  readonly choiceCount: number;
  readonly promptTokens: number;
  cachedTokens = 0;
  completionTokens = 0;
  private readonly choices: ChoiceState[] = [];
  private readonly events: ChoiceEvent[] = [];
  private wake: (() => void) | undefined;
  private failure: ApiError | undefined;
  private unfinished: number;
  private firstTokenAt: number | null = null;
  private readonly admittedAt = performance.now();
  private readonly deadline: NodeJS.Timeout;
  private resolveFinished!: () => void;
  /** Slots of choices whose workers are done, held until the answer is delivered. */
  private heldSlots = 0;
  private delivered = false;
  /** Resolves when every choice has ended (finished, cancelled or failed). */
  readonly finished = new Promise<void>((resolve) => {
    this.resolveFinished = resolve;
  });

  constructor(
    private readonly plan: GenerationPlan,
    private readonly arrivedAt: number,
    private readonly lease: SlotLease,
    private readonly context: RunContext,
  ) {
    this.promptTokens = plan.prompts.reduce((sum, prompt) => sum + prompt.ids.length, 0);
    this.choiceCount = plan.prompts.length * plan.n;
    this.unfinished = this.choiceCount;
    const remaining = context.deadlineMs - (performance.now() - arrivedAt);
    this.deadline = setTimeout(() => this.endAtDeadline(), Math.max(0, remaining));
    for (const [p, prompt] of plan.prompts.entries()) this.startPrompt(prompt, p);
  }

  get summary(): RunSummary {
    return {
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      cachedTokens: this.cachedTokens,
      queueSeconds: seconds(this.arrivedAt, this.admittedAt),
      timeToFirstTokenSeconds: this.firstTokenAt === null ? null : seconds(this.arrivedAt, this.firstTokenAt),
      totalSeconds: seconds(this.arrivedAt),
      finishReasons: this.choices.map((choice) => choice.finishReason),
    };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChoiceEvent> {
    try {
      for (;;) {
        const event = this.events.shift();
        if (event) {
          this.taken(this.choices[event.index]);
          yield event;
        } else if (this.failure) throw this.failure;
        else if (this.unfinished === 0) return;
        else await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.markDelivered();
    }
  }

  /** The answer has been delivered, or never will be (the client left): slots may come back. */
  markDelivered(): void {
    if (this.delivered) return;
    this.delivered = true;
    this.lease.release(this.heldSlots);
    this.heldSlots = 0;
  }

  /** The client left: every running choice stops at its worker's next step. */
  cancel(): void {
    for (const choice of this.choices) this.endChoice(choice, "cancelled");
  }

  /** Ends the request with `error`, which the consumer's loop then throws (and counts). */
  abort(error: ApiError): void {
    if (this.unfinished === 0) return;
    this.failure = error;
    for (const choice of this.choices) this.endChoice(choice, "error");
  }

  private startPrompt(prompt: PromptInput, promptIndex: number): void {
    const { pool, prefixCache, metrics } = this.context;
    const { plan } = this;
    const ids = prompt.ids;
    const cached = prefixCache.maxEntries > 0 ? prefixCache.lookup(ids) : undefined;
    if (prefixCache.maxEntries > 0) metrics.prefixCacheLookup(cached?.tokens ?? 0);
    this.cachedTokens += cached?.tokens ?? 0;
    const fromToken = cached?.tokens ?? 0;
    // Only the first choice reports states: its siblings would report the same ones.
    const snapshotAt =
      prefixCache.maxEntries > 0
        ? [...new Set([ids.length - 1, ...prompt.prefixHints])]
            .filter((at) => at > fromToken && at < ids.length && !prefixCache.has(ids, at))
            .sort((a, b) => a - b)
        : [];
    for (let i = 0; i < plan.n; i++) {
      const choice: ChoiceState = {
        index: promptIndex * plan.n + i,
        finishReason: null,
        lastTokenAt: null,
        backlog: 0,
        paused: false,
      };
      this.choices.push(choice);
      const seed = plan.params.seed;
      choice.sequence = pool.run(
        {
          promptIds: ids,
          params: seed == null ? plan.params : { ...plan.params, seed: seed + i },
          maxTokens: plan.maxTokens,
          stopTokenIds: plan.stopTokenIds,
          stopStrings: plan.stopStrings,
          cachedState: cached && { values: cached.values.slice(), tokens: cached.tokens },
          snapshotAt: i === 0 ? snapshotAt : [],
        },
        {
          token: (message) => this.onToken(choice, message),
          snapshot: (promptTokens, values) => prefixCache.store(ids, promptTokens, values),
          failed: (error) => this.onFailure(choice, error),
          released: () => {
            if (this.delivered) this.lease.release();
            else this.heldSlots++;
          },
        },
      );
    }
  }

  private onToken(choice: ChoiceState, message: TokenMessage): void {
    if (choice.finishReason !== null) return;
    const now = performance.now();
    const { metrics } = this.context;
    if (this.firstTokenAt === null) {
      this.firstTokenAt = now;
      metrics.firstToken(seconds(this.arrivedAt, now), seconds(this.admittedAt, now));
    }
    metrics.tokenGenerated(choice.lastTokenAt === null ? null : seconds(choice.lastTokenAt, now));
    choice.lastTokenAt = now;
    this.completionTokens++;
    const isStopToken = message.finishReason === "stop" && this.plan.stopTokenIds.includes(message.token);
    this.push({
      index: choice.index,
      text: message.text,
      logprobs: isStopToken ? null : message.logprobs,
      finishReason: message.finishReason,
    });
    if (message.finishReason !== null) this.endChoice(choice, message.finishReason);
  }

  private onFailure(choice: ChoiceState, error: Error): void {
    if (choice.finishReason !== null) return;
    this.context.log.error({ err: error }, "generation failed");
    this.abort(toApiError(error)!);
  }

  /** The request's deadline: choices still running end as if they had reached max_tokens. */
  private endAtDeadline(): void {
    if (this.unfinished === 0) return;
    this.context.metrics.requestFailed("deadline");
    for (const choice of this.choices) {
      if (choice.finishReason !== null) continue;
      this.push({ index: choice.index, text: "", logprobs: null, finishReason: "length" });
      this.endChoice(choice, "length");
    }
  }

  private endChoice(choice: ChoiceState, reason: RequestFinishReason): void {
    if (choice.finishReason !== null) return;
    choice.finishReason = reason;
    // A no-op for a choice whose worker sent its last token; stops the others at the next step.
    choice.sequence?.cancel();
    this.context.metrics.choiceFinished(reason);
    if (--this.unfinished > 0) return;
    clearTimeout(this.deadline);
    if (!this.failure) this.context.metrics.requestFinished(seconds(this.arrivedAt));
    this.resolveFinished();
    this.wakeConsumer();
  }

  private push(event: ChoiceEvent): void {
    this.events.push(event);
    const choice = this.choices[event.index];
    if (++choice.backlog >= PAUSE_BACKLOG && !choice.paused && choice.finishReason === null) {
      choice.paused = true;
      choice.sequence?.pause();
    }
    this.wakeConsumer();
  }

  /** The consumer took one of the choice's events. */
  private taken(choice: ChoiceState): void {
    if (--choice.backlog <= RESUME_BACKLOG && choice.paused) {
      choice.paused = false;
      choice.sequence?.resume();
    }
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
