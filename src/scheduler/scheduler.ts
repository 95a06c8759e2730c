import type { FastifyBaseLogger } from "fastify";
import type { SamplingParams } from "../engine/sampling/index.js";
import { generationDefaults } from "../model/generation-defaults.js";
import { loadModel } from "../model/loaded-model.js";
import { ChatTemplate } from "../server/chat-template.js";
import type { ServerConfig } from "../server/config.js";
import { ServerMetrics } from "../server/metrics.js";
import { trineVersion } from "../server/version.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { AdmissionScheduler } from "./admission.js";
import { GrammarCheck } from "./grammar-check.js";
import { IdleHeapTrim } from "./idle-heap-trim.js";
import { type CachedPrefix, PrefixStateCache } from "./prefix-cache.js";
import { PromptTokenizer } from "./prompt-tokenizer.js";
import { type GenerationRequest, RequestRun, seconds } from "./request-run.js";
import { UnavailableError } from "./unavailable-error.js";
import { WorkerPool } from "./worker-pool.js";

/**
 * The main thread's side of generation: the loaded model, the worker pool, admission and the
 * prefix state cache, and one RequestRun per admitted request. The endpoints build the request's
 * sequence specs and turn its events into the OpenAI wire format; everything between is here.
 */

/** What the endpoints need of the model. */
export interface ServedModel {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  /** Tokenizes prompts, long ones off the event loop. */
  readonly promptTokenizer: PromptTokenizer;
  /** Refuses output constraints whose grammar compiles too slowly, before a worker starts on one. */
  readonly grammarCheck: GrammarCheck;
  readonly vocabSize: number;
  /** The longest text any one token stands for, in UTF-8 bytes (see checkPromptText). */
  readonly maxTokenBytes: number;
  readonly eosTokenIds: readonly number[];
  /** Sampling defaults from generation_config.json; a request's own values win. */
  readonly defaults: SamplingParams;
  readonly chatTemplate: ChatTemplate;
  /** tokenizer_config.json as the model directory has it ({} without one). */
  readonly tokenizerConfig: Readonly<Record<string, unknown>>;
  /** Unix seconds the model was loaded. */
  readonly created: number;
}

export type SchedulerPhase = "loading" | "ready" | "draining" | "stopped";

export class Scheduler {
  readonly metrics: ServerMetrics;
  readonly admission: AdmissionScheduler;
  private phase: SchedulerPhase = "loading";
  private served?: ServedModel;
  private pool?: WorkerPool;
  private promptTokenizer?: PromptTokenizer;
  private grammarCheck?: GrammarCheck;
  private readonly prefixCache: PrefixStateCache;
  private readonly runs = new Set<RequestRun>();
  /** Requests waiting for slots or running; drain waits for none to be left. */
  private active = 0;
  private whenIdle: (() => void)[] = [];
  private readonly heapTrim = new IdleHeapTrim();
  private weightBytes = 0;

  constructor(
    private readonly config: ServerConfig,
    private readonly log: FastifyBaseLogger,
    /** Maps a worker's failure to what a request's consumer sees. */
    private readonly failure: (error: Error) => Error = (error) => error,
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

  get state(): SchedulerPhase {
    return this.phase;
  }

  /** The worker pool, once started (tests stop a worker through it to check recovery). */
  get workerPool(): WorkerPool | undefined {
    return this.pool;
  }

  /** Loads the model and starts the workers; until then generation answers 503. */
  async start(): Promise<void> {
    const { config, log } = this;
    const started = performance.now();
    const loaded = loadModel(config.modelDir);
    const chatTemplate = ChatTemplate.forModel(config.modelDir, loaded.tokenizerConfig, loaded.tokenizer);
    this.weightBytes = loaded.weights.views.buffer.byteLength;
    this.pool = await WorkerPool.start({
      model: loaded.model,
      vocabulary: loaded.tokenizer.vocabulary,
      workers: config.workers,
      maxSequences: config.maxSequences,
      kernel: config.kernel,
      log: (message) => log.info(message),
      onWorkerRestart: () => {
        log.error("a worker thread died; Piscina starts a replacement");
        this.metrics.workerRestarted();
      },
      onGrammarCompile: (cached, seconds) => this.metrics.grammarCompiled(cached, seconds),
    });
    if (this.phase !== "loading") {
      // Shut down while loading: nothing was served, nothing to keep.
      await this.pool.destroy();
      return;
    }
    this.promptTokenizer = PromptTokenizer.start(config.modelDir, loaded.tokenizer);
    this.grammarCheck = GrammarCheck.start(loaded.tokenizer.vocabulary, loaded.model.config.vocabSize);
    this.metrics.setBuildInfo(trineVersion(), this.pool.kernel);
    this.served = {
      name: config.modelName,
      tokenizer: loaded.tokenizer,
      promptTokenizer: this.promptTokenizer,
      grammarCheck: this.grammarCheck,
      vocabSize: loaded.model.config.vocabSize,
      maxTokenBytes: maxTokenBytes(loaded.tokenizer),
      eosTokenIds: loaded.eosTokenIds,
      defaults: generationDefaults(loaded.generationConfig),
      chatTemplate,
      tokenizerConfig: loaded.tokenizerConfig,
      created: Math.floor(Date.now() / 1000),
    };
    this.phase = "ready";
    this.heapTrim.idle();
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

  /**
   * The prefix cache's longest state for `promptIds` (leaving one token to feed), as a copy: the
   * Responses API stores it with a response whose final state the next turn cannot use.
   */
  prefixState(promptIds: readonly number[]): CachedPrefix | undefined {
    const cached = this.prefixCache.lookup(promptIds);
    return cached && { tokens: cached.tokens, values: cached.values.slice() };
  }

  /** The model, or UnavailableError while loading or shutting down. */
  model(): ServedModel {
    if (this.phase === "ready") return this.served!;
    if (this.phase === "loading") throw new UnavailableError("The model is still loading.", "loading");
    throw new UnavailableError("The server is shutting down.", "draining");
  }

  /**
   * Waits for slots (one per sequence), then starts every sequence on the workers. Throws the
   * admission errors, UnavailableError when draining, or the signal's reason when the client
   * leaves while waiting.
   */
  async generate(
    request: GenerationRequest,
    arrivedAt: number,
    signal: AbortSignal,
    /** The request's logger, so that what goes wrong in the run is logged under its id. */
    log: FastifyBaseLogger = this.log,
  ): Promise<RequestRun> {
    this.model();
    this.active++;
    this.heapTrim.busy();
    let run: RequestRun;
    try {
      const lease = await this.admission.acquire(request.sequences.length, signal);
      if (this.phase === "stopped") {
        lease.releaseAll();
        throw new UnavailableError("The server is shutting down.", "draining");
      }
      const promptTokens = [...new Set(request.sequences.map((spec) => spec.promptIds))].reduce(
        (sum, ids) => sum + ids.length,
        0,
      );
      this.metrics.requestAdmitted(seconds(arrivedAt), promptTokens);
      const constraint = request.sequences[0]?.constraint;
      if (constraint) this.metrics.constrainedRequest(constraint.type);
      run = new RequestRun(request, arrivedAt, lease, {
        pool: this.pool!,
        prefixCache: this.prefixCache,
        metrics: this.metrics,
        log,
        deadlineMs: this.config.requestTimeoutMs,
        failure: this.failure,
      });
    } catch (error) {
      this.settled();
      throw error;
    }
    this.runs.add(run);
    void run.finished.then(() => {
      this.runs.delete(run);
      this.settled();
    });
    return run;
  }

  /**
   * Stops taking generation requests and waits up to `gracePeriodMs` for those running or
   * queued to finish; any left then end with UnavailableError (in their stream, if it started).
   */
  async drain(gracePeriodMs: number): Promise<void> {
    if (this.phase === "loading" || this.phase === "ready") this.phase = "draining";
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.idle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, gracePeriodMs);
      }),
    ]);
    clearTimeout(timer);
    this.phase = "stopped";
    const shutdown = new UnavailableError("The server shut down before this request finished.", "draining");
    this.admission.refuseWaiting(shutdown);
    for (const run of this.runs) run.abort(shutdown);
  }

  async close(): Promise<void> {
    this.phase = "stopped";
    this.heapTrim.busy();
    await Promise.all([this.pool?.destroy(), this.promptTokenizer?.close(), this.grammarCheck?.close()]);
  }

  /** Resolves once no request is waiting or running. */
  private idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.whenIdle.push(resolve));
  }

  private settled(): void {
    if (--this.active > 0) return;
    this.heapTrim.idle();
    const waiting = this.whenIdle;
    this.whenIdle = [];
    for (const resolve of waiting) resolve();
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
