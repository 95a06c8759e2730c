import type { MessagePort } from "node:worker_threads";
import type { KernelPreference } from "../engine/kernels/select.js";
import type { Model } from "../engine/model.js";
import type { SamplingParams, TokenLogprobs } from "../engine/sampling/index.js";
import type { FinishReason } from "../generation/batch-generator.js";

/**
 * Everything that crosses between the main thread and the generation workers. One Piscina task
 * is one sequence; its tokens come back on the MessagePort that travels with the task, so they
 * arrive as they are made rather than with the task's result.
 */

/** What every worker receives once, at start: the weights are views on one SharedArrayBuffer. */
export interface GenerationWorkerData {
  readonly model: Model;
  /** The model directory, for the tokenizer files (cheap to parse again in each worker). */
  readonly modelDir: string;
  readonly kernel: KernelPreference;
}

/** Posted by a worker to the pool once its kernel and tokenizer are ready. */
export interface WorkerReadyMessage {
  readonly type: "worker-ready";
  readonly kernel: string;
  /** What kernel selection said, for the server log. */
  readonly notes: readonly string[];
}

export interface SequenceTask {
  readonly promptIds: readonly number[];
  /** Validated by the server. */
  readonly params: SamplingParams;
  readonly maxTokens: number;
  readonly stopTokenIds: readonly number[];
  readonly stopStrings: readonly string[];
  /** A prefix state from the cache; its buffer is transferred, not copied. */
  readonly cachedState?: { readonly values: Float32Array; readonly tokens: number };
  /** Prompt lengths after which the worker sends a copy of the state. */
  readonly snapshotAt: readonly number[];
  /** Transferred with the task: tokens and snapshots go out on it, control messages (cancel, pause, resume) come in. */
  readonly port: MessagePort;
}

/** How a sequence left its worker: the task's result. */
export type SequenceEnd = "finished" | "cancelled";

export interface TokenMessage {
  readonly type: "token";
  readonly token: number;
  readonly text: string;
  readonly logprobs: TokenLogprobs | null;
  /** Set on the sequence's last message. */
  readonly finishReason: FinishReason | null;
}

export interface SnapshotMessage {
  readonly type: "snapshot";
  readonly promptTokens: number;
  readonly values: Float32Array;
}

/** Worker → main, on the task's port. */
export type SequenceMessage = TokenMessage | SnapshotMessage;

/**
 * Main → worker, on the task's port: drop the sequence at the next step (cancel), or leave it out
 * of the steps until resumed (pause: its client is not reading, so tokens would only pile up).
 */
export interface ControlMessage {
  readonly type: "cancel" | "pause" | "resume";
}
