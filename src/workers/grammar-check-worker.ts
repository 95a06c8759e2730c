import { workerData } from "piscina";
import { GrammarConstraintCompiler } from "../generation/constraints/compiler.js";
import type { OutputConstraint } from "../generation/sequence-spec.js";
import type { GrammarCheckWorkerData } from "../scheduler/grammar-check.js";
import { createDetokenizer } from "../tokenizer/index.js";

/**
 * The grammar-check thread: compiles a request's output constraint for the model's vocabulary, as
 * a batch worker will, so that the main thread can refuse one whose compile takes too long by
 * ending this thread (WebAssembly cannot be interrupted otherwise) before any batch worker, whose
 * other sequences would wait meanwhile, starts on it. Returns the seconds the compile took.
 */

const { vocabulary, vocabSize } = workerData as GrammarCheckWorkerData;
const compiler = await GrammarConstraintCompiler.create(createDetokenizer(vocabulary), vocabSize);

/** null: a no-op, which the main thread awaits to know that this thread has started. */
export default function check(constraint: OutputConstraint | null): number {
  if (constraint === null) return 0;
  const started = performance.now();
  compiler.compile(constraint).dispose?.();
  return (performance.now() - started) / 1000;
}
