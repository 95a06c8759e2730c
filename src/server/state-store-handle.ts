import type { FastifyBaseLogger } from "fastify";
import type { Scheduler } from "../scheduler/scheduler.js";
import { ReplyStateStore } from "../store/reply-state-store.js";
import { ResponseStore } from "../store/response-store.js";
import {
  describeLocation,
  openStateStore,
  type StateStore,
  StoreUnavailableError,
} from "../store/state-store.js";
import { StoreMetrics } from "../store/store-metrics.js";
import type { ServerConfig } from "./config.js";
import { StateFingerprint } from "./state-fingerprint.js";

/** How long /ready waits for the store's answer before reporting it down. */
const READY_PING_TIMEOUT_MS = 500;

/** What /ready says of the store. */
export interface StoreStatus {
  readonly backend: "memory" | "lmdb" | "redis";
  readonly status: "up" | "down";
}

/**
 * The server's one handle on its state store (--state-store), shared by the Responses API
 * (stored responses) and chat completions (reply states): opened at first use and opened again
 * by the next use after a failure (a volume mounted late, Redis's DNS name not there yet), with
 * its metrics and the fingerprint that tags every stored state.
 */
export class StateStoreHandle {
  readonly metrics: StoreMetrics;
  readonly fingerprint: StateFingerprint;
  readonly replyStates: ReplyStateStore;
  private opened: StateStore | undefined;
  private opening: Promise<StateStore> | undefined;
  private responseStore: ResponseStore | undefined;
  /** The model, template and kernel do not change while the server runs. */
  private known: Promise<string> | undefined;

  constructor(
    private readonly config: ServerConfig,
    private readonly scheduler: Scheduler,
    private readonly log: FastifyBaseLogger,
  ) {
    this.fingerprint = new StateFingerprint(config.modelDir);
    // Hashed while the model loads, so the first request that stores or reads a state never waits.
    this.fingerprint.warm();
    this.metrics = new StoreMetrics(
      scheduler.metrics.registry,
      config.modelName,
      () => this.opened?.usage(),
      async () => (await this.status()).status === "up",
    );
    this.replyStates = new ReplyStateStore(() => this.backend(), this.metrics, log);
  }

  get kind(): StoreStatus["backend"] {
    return this.config.stateStore.kind;
  }

  /** The backend, opened now if it is not yet; StoreUnavailableError when it cannot be. */
  backend(): Promise<StateStore> {
    this.opening ??= openStateStore(this.config.stateStore, {
      maxBytes: this.config.stateStoreMaxBytes,
      ttlMs: this.config.stateStoreTtlMs,
    }).then(
      (backend) => {
        this.log.info({ stateStore: backend.description }, "state store opened");
        this.opened = backend;
        return backend;
      },
      (error: Error) => {
        this.opening = undefined;
        this.log.error(
          { err: error, stateStore: describeLocation(this.config.stateStore) },
          "the state store cannot be opened",
        );
        throw new StoreUnavailableError(`it cannot be opened (${error.message})`);
      },
    );
    return this.opening;
  }

  async responses(): Promise<ResponseStore> {
    const backend = await this.backend();
    this.responseStore ??= new ResponseStore(backend, this.metrics, this.log);
    return this.responseStore;
  }

  /** The fingerprint of this server's states: its model files, chat template and kernel. */
  stateFingerprint(): Promise<string> {
    this.known ??= this.fingerprint.of(
      this.scheduler.model().chatTemplate,
      this.scheduler.workerPool?.kernel ?? "unknown",
    );
    return this.known;
  }

  /** Whether the store answers now (opening it if need be), within READY_PING_TIMEOUT_MS. */
  async status(): Promise<StoreStatus> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_PING_TIMEOUT_MS);
    });
    const answer = this.backend().then(
      (backend) => backend.ping().then(() => true),
      () => false,
    );
    const up = await Promise.race([answer.catch(() => false), timeout]).finally(() => clearTimeout(timer));
    return { backend: this.kind, status: up ? "up" : "down" };
  }

  /** Waits for the reply-state writes in flight, then closes the backend. */
  async close(): Promise<void> {
    await this.replyStates.settle();
    await this.opened?.close();
  }
}
