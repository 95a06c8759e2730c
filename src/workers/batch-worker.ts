import { parentPort } from "node:worker_threads";
import { workerData } from "piscina";
import { selectKernel } from "../engine/kernels/select.js";
import { BatchGenerator } from "../generation/batch-generator.js";
import { GrammarConstraintCompiler } from "../generation/constraints/compiler.js";
import { createDetokenizer } from "../tokenizer/index.js";
import type {
  BatchWorkerData,
  ControlMessage,
  GrammarCompileMessage,
  SequenceEnd,
  SequenceMessage,
  SequenceTask,
  WorkerReadyMessage,
} from "./messages.js";
import { SequenceTimer } from "./sequence-timing.js";
import { StepLoop } from "./step-loop.js";

/**
 * The Piscina worker: one task is one sequence. It adds the sequence's spec to this thread's step
 * loop, forwards tokens and state snapshots on the task's port as they are made, and finishes
 * the task when the sequence ends. The weights and the vocabulary in workerData are views on the
 * main thread's SharedArrayBuffers, so no worker holds its own copy of either.
 */

const { model, vocabulary, kernel: kernelPreference } = workerData as BatchWorkerData;
const notes: string[] = [];
const kernel = await selectKernel(kernelPreference, (note) => notes.push(note));
const detokenizer = createDetokenizer(vocabulary);
// Output constraints (response_format, structured_outputs, tool calls) compile here, once per
// distinct constraint, into an LRU that this worker's sequences share. xgrammar and its own copy
// of the vocabulary (~20 MB at 32,000 tokens) start with the first sequence that has one, so a
// worker that is never asked for a constraint never holds them.
let constraints: GrammarConstraintCompiler | undefined;
let constraintsStarting: Promise<GrammarConstraintCompiler> | undefined;
function startConstraints(): Promise<GrammarConstraintCompiler> {
  constraintsStarting ??= GrammarConstraintCompiler.create(detokenizer, model.config.vocabSize, {
    onCompile: ({ kind, cached, seconds }) =>
      parentPort!.postMessage({
        type: "grammar-compile",
        kind,
        cached,
        seconds,
      } satisfies GrammarCompileMessage),
  });
  return constraintsStarting;
}
const loop = new StepLoop(
  new BatchGenerator(model, detokenizer, kernel, {
    compileConstraint: (constraint) => constraints!.compile(constraint),
  }),
);
parentPort!.postMessage({ type: "worker-ready", kernel: kernel.name, notes } satisfies WorkerReadyMessage);

export default async function generate({
  spec,
  cachedState,
  snapshotAt,
  port,
  timed,
}: SequenceTask): Promise<SequenceEnd> {
  // Only a constrained sequence waits here: the others join the very next step, as before. The
  // port holds control messages until it is listened to, so a cancel meanwhile is not lost.
  if (spec.constraint && !constraints) constraints = await startConstraints();
  const post = (message: SequenceMessage, transfer: ArrayBuffer[] = []) =>
    port.postMessage(message, transfer);
  const timer = timed ? new SequenceTimer(loop.stepsRun) : undefined;
  const { id, ended } = loop.add(
    spec,
    {
      cachedState: cachedState && {
        state: { values: cachedState.values, position: cachedState.tokens },
        tokens: cachedState.tokens,
      },
      snapshotAt,
    },
    {
      token: ({ token, text, logprobs, finishReason, finalState }, step) => {
        const timing = timer?.token(step, finishReason !== null);
        const message = timing
          ? { type: "token" as const, token, text, logprobs, finishReason, timing }
          : { type: "token" as const, token, text, logprobs, finishReason };
        if (finalState) post({ ...message, finalState }, [finalState.values.buffer as ArrayBuffer]);
        else post(message);
      },
      snapshot: ({ promptTokens, state, nextLogits }) =>
        nextLogits
          ? post({ type: "snapshot", promptTokens, values: state.values, nextLogits }, [
              state.values.buffer as ArrayBuffer,
              nextLogits.buffer as ArrayBuffer,
            ])
          : post({ type: "snapshot", promptTokens, values: state.values }, [
              state.values.buffer as ArrayBuffer,
            ]),
      promptScores: ({ from, logprobs, finishReason }) =>
        post({ type: "prompt-scores", from, logprobs, finishReason }),
    },
  );
  port.on("message", (message: ControlMessage) => {
    if (message.type === "cancel") loop.cancel(id);
    else if (message.type === "pause") loop.pause(id);
    else if (message.type === "resume") loop.resume(id);
  });
  return ended;
}
