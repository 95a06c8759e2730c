import { parentPort } from "node:worker_threads";
import { workerData } from "piscina";
import { selectKernel } from "../engine/kernels/select.js";
import { BatchGenerator } from "../generation/batch-generator.js";
import { GrammarConstraintCompiler } from "../generation/constraints/compiler.js";
import { loadTokenizerFiles } from "../model/tokenizer-files.js";
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
 * the task when the sequence ends. The weights in workerData are views on the main thread's
 * SharedArrayBuffer, so no worker holds its own copy.
 */

const { model, modelDir, kernel: kernelPreference } = workerData as BatchWorkerData;
const notes: string[] = [];
const kernel = await selectKernel(kernelPreference, (note) => notes.push(note));
const { tokenizer } = loadTokenizerFiles(modelDir);
// Output constraints (response_format, structured_outputs, tool calls) compile here, once per
// distinct constraint, into an LRU that this worker's sequences share.
const constraints = await GrammarConstraintCompiler.create(tokenizer, model.config.vocabSize, {
  onCompile: ({ kind, cached, seconds }) =>
    parentPort!.postMessage({
      type: "grammar-compile",
      kind,
      cached,
      seconds,
    } satisfies GrammarCompileMessage),
});
const loop = new StepLoop(
  new BatchGenerator(model, tokenizer, kernel, { compileConstraint: constraints.compile }),
);
parentPort!.postMessage({ type: "worker-ready", kernel: kernel.name, notes } satisfies WorkerReadyMessage);

export default function generate({
  spec,
  cachedState,
  snapshotAt,
  port,
  timed,
}: SequenceTask): Promise<SequenceEnd> {
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
