import type { MessagePort } from "node:worker_threads";
import type { KernelPreference } from "../engine/kernels/select.js";
import type { Model } from "../engine/model.js";
import type { TokenLogprobs } from "../engine/sampling/index.js";
import type { FinishReason } from "../generation/batch-generator.js";
import type { PromptTokenLogprobs } from "../generation/prompt-scoring.js";
import type { SequenceSpec } from "../generation/sequence-spec.js";
import type { SharedVocabulary } from "../tokenizer/index.js";
import type { SequenceTiming } from "./sequence-timing.js";

/**
 * Everything that crosses between the main thread and the batch workers. One Piscina task is one
 * sequence; its tokens come back on the MessagePort that travels with the task, so they arrive as
 * they are made rather than with the task's result.
 */

/**
 * What every worker receives once, at start: the weights and the vocabulary are views on
 * SharedArrayBuffers of the main thread, so no worker holds a copy of either.
 */
export interface BatchWorkerData {
  readonly model: Model;
  /** For the text of the tokens: a worker never encodes, so it has no tokenizer of its own. */
  readonly vocabulary: SharedVocabulary;
  readonly kernel: KernelPreference;
}

/** Posted by a worker to the pool once its kernel is ready. */
export interface WorkerReadyMessage {
  readonly type: "worker-ready";
  readonly kernel: string;
  /** What kernel selection said, for the server log. */
  readonly notes: readonly string[];
}

/** Posted by a worker to the pool when a sequence's output constraint was compiled or found cached. */
export interface GrammarCompileMessage {
  readonly type: "grammar-compile";
  readonly kind: string;
  readonly cached: boolean;
  readonly seconds: number;
}

/** A cached prefix state the scheduler starts a sequence from. */
export interface CachedStart {
  /** Transferred with the task, not copied. */
  readonly values: Float32Array;
  /** Prompt tokens it has consumed. */
  readonly tokens: number;
}

export interface SequenceTask {
  /** As the endpoint built it. */
  readonly spec: SequenceSpec;
  /** The scheduler's additions: where the prefix cache lets the sequence start... */
  readonly cachedState?: CachedStart;
  /** ...and the prompt lengths after which the worker sends it a copy of the state. */
  readonly snapshotAt: readonly number[];
  /** Transferred with the task: tokens and snapshots go out on it, control messages (cancel, pause, resume) come in. */
  readonly port: MessagePort;
  /** Send the sequence's timings with its first and last tokens (the request is traced). */
  readonly timed?: boolean;
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
  /** With the last message, when the spec asked for it (keepFinalState); transferred. */
  readonly finalState?: { readonly values: Float32Array; readonly position: number };
  /** Only for a timed task: prefill timings with the first token, decode timings with the last. */
  readonly timing?: SequenceTiming;
}

export interface SnapshotMessage {
  readonly type: "snapshot";
  readonly promptTokens: number;
  readonly values: Float32Array;
  /** For a scored prompt: the logits that score the token after the snapshot point; transferred. */
  readonly nextLogits?: Float32Array;
}

/** Scores of prompt positions [from, from + logprobs.length); finishReason set when the sequence ends with its prompt. */
export interface PromptScoresMessage {
  readonly type: "prompt-scores";
  readonly from: number;
  readonly logprobs: readonly PromptTokenLogprobs[];
  readonly finishReason: FinishReason | null;
}

/** Worker → main, on the task's port. */
export type SequenceMessage = TokenMessage | SnapshotMessage | PromptScoresMessage;

/**
 * Main → worker, on the task's port: drop the sequence at the next step (cancel), or leave it out
 * of the steps until resumed (pause: its client is not reading, so tokens would only pile up).
 */
export interface ControlMessage {
  readonly type: "cancel" | "pause" | "resume";
}
