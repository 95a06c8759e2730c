/**
 * The cost of structured outputs: decode time per token with a JSON-schema constraint against
 * the same decode unconstrained, at the MMfreeLM-370M shapes with the Llama 32000-token
 * vocabulary (the random packed model `npm run bench` writes into .work/), B = 1 and B = 16
 * sequences, through the real generation path (BatchGenerator: forward, sampler, the grammar's
 * logits processor). Rounds interleave the two variants and each ratio is taken within a round,
 * so a burst of other work on this shared machine lands on both alike. Then the compile time of
 * a small and a large schema for that vocabulary (each on a fresh compiler, so not cached).
 *
 *   npx tsx bench/constrained-decode.ts                # 3 rounds, 24 timed steps each
 *   npx tsx bench/constrained-decode.ts --rounds=5 --steps=48 --temperature=0
 */
import { selectKernel } from "../src/engine/kernels/select.js";
import type { LogitsProcessor } from "../src/engine/sampling/index.js";
import { BatchGenerator } from "../src/generation/batch-generator.js";
import { type CompileEvent, GrammarConstraintCompiler } from "../src/generation/constraints/compiler.js";
import type { OutputConstraint, SequenceSpec } from "../src/generation/sequence-spec.js";
import { loadModel } from "../src/model/loaded-model.js";
import { type Elapsed, startTimer } from "./decode-rounds.js";
import { randomMmfreelmModel } from "./mmfreelm-model.js";
import { median } from "./roofline.js";

const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const rounds = Number(option("rounds") ?? 3);
const steps = Number(option("steps") ?? 24);
/** 1 by default; 0 for greedy, where the draw costs the same masked or not. */
const temperature = Number(option("temperature") ?? 1);
const WARM_UP_STEPS = 6;

const loaded = loadModel(randomMmfreelmModel("370M"));
const kernel = await selectKernel("auto");
const compiler = await GrammarConstraintCompiler.create(loaded.tokenizer, loaded.model.config.vocabSize);

/** A schema a random model keeps writing for the whole run: many records of mixed fields. */
const RECORDS = {
  type: "array",
  minItems: 64,
  items: {
    type: "object",
    properties: {
      name: { type: "string", maxLength: 24 },
      age: { type: "integer", minimum: 0, maximum: 120 },
      score: { type: "number", minimum: 0, maximum: 1 },
      tags: { type: "array", items: { enum: ["red", "green", "blue"] }, maxItems: 3 },
      active: { type: "boolean" },
    },
    required: ["name", "age", "score", "tags", "active"],
    additionalProperties: false,
  },
};

function spec(constraint: OutputConstraint | null, seed: number): SequenceSpec {
  return {
    promptIds: loaded.tokenizer.encode("Here are the records as JSON:"),
    sampling: { temperature, seed },
    logprobs: null,
    maxTokens: WARM_UP_STEPS + steps + 8,
    stopTokenIds: [],
    stopStrings: [],
    constraint,
    keepFinalState: false,
    prefixHints: [],
  };
}

/** Time inside the grammar processors (mask, accept), in the timed steps: the constraint's own cost. */
let grammarSeconds = 0;
let timing = false;
const timed =
  <A extends unknown[]>(f: (...args: A) => void) =>
  (...args: A) => {
    const started = timing ? performance.now() : 0;
    f(...args);
    if (timing) grammarSeconds += (performance.now() - started) / 1000;
  };
const compileTimed = (c: OutputConstraint): LogitsProcessor => {
  const processor = compiler.compile(c);
  return { ...processor, process: timed(processor.process), accept: timed(processor.accept) };
};

/**
 * Seconds per decode step with `batch` sequences after the prompts and a warm-up, in wall-clock
 * and in process CPU time (bench/decode-rounds.ts's timer: on this shared machine, wall-clock
 * rounds spread widely while CPU time leaves out the time the OS gives the core to others).
 */
function secondsPerStep(batch: number, constraint: OutputConstraint | null): Elapsed {
  const generator = new BatchGenerator(loaded.model, loaded.tokenizer, kernel, {
    compileConstraint: compileTimed,
    prefillTokensPerStep: 4096,
  });
  for (let i = 0; i < batch; i++) generator.add(spec(constraint, i + 1));
  for (let i = 0; i < WARM_UP_STEPS; i++) generator.step();
  timing = true;
  const elapsed = startTimer();
  for (let i = 0; i < steps; i++) {
    const { tokens } = generator.step();
    if (tokens.length !== batch) throw new Error(`a sequence ended early (step ${i}): lengthen the run`);
  }
  timing = false;
  const { wall, cpu } = elapsed();
  return { wall: wall / steps, cpu: cpu / steps };
}

const constraint: OutputConstraint = { type: "json_schema", schema: RECORDS };
console.log(`MMfreeLM-370M shapes, random weights, 32000-token Llama vocabulary, kernel ${kernel.name}`);
console.log(
  `${rounds} rounds x ${steps} timed decode steps (after ${WARM_UP_STEPS} warm-up steps), temperature ${temperature}\n`,
);
for (const batch of [1, 16]) {
  const plain: number[] = [];
  const constrained: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const grammarShares: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const a = secondsPerStep(batch, null);
    grammarSeconds = 0;
    const b = secondsPerStep(batch, constraint);
    grammarShares.push(grammarSeconds / steps / a.wall);
    plain.push(a.cpu);
    constrained.push(b.cpu);
    ratios.push(b.wall / a.wall);
    cpuRatios.push(b.cpu / a.cpu);
  }
  const perToken = (seconds: number) => `${((seconds / batch) * 1000).toFixed(2)} ms/token`;
  console.log(
    `B = ${String(batch).padStart(2)}: CPU time unconstrained ${perToken(median(plain))}, JSON schema ${perToken(median(constrained))}, ` +
      `constrained / unconstrained ${median(cpuRatios).toFixed(3)} (rounds: ${cpuRatios.map((r) => r.toFixed(3)).join(", ")}); ` +
      `wall-clock ratio ${median(ratios).toFixed(3)} (rounds: ${ratios.map((r) => r.toFixed(3)).join(", ")}); ` +
      `grammar work (masks + accepts) ${(median(grammarShares) * 100).toFixed(1)}% of an unconstrained step`,
  );
}

/** A large schema: 40 properties, nested objects and arrays, enums and bounds. */
const LARGE = {
  type: "object",
  properties: Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [
      `field_${i}`,
      i % 4 === 0
        ? {
            type: "object",
            properties: {
              id: { type: "integer", minimum: 0, maximum: 9999 },
              label: { type: "string", maxLength: 32 },
            },
            required: ["id", "label"],
          }
        : i % 4 === 1
          ? { type: "array", items: { enum: ["alpha", "beta", "gamma", "delta"] }, minItems: 1, maxItems: 5 }
          : i % 4 === 2
            ? { type: ["number", "null"], minimum: -1000, maximum: 1000 }
            : { type: "string", pattern: "[A-Z]{2}-[0-9]{4}" },
    ]),
  ),
  required: Array.from({ length: 40 }, (_, i) => `field_${i}`),
  additionalProperties: false,
};
const SMALL = {
  type: "object",
  properties: { answer: { type: "string" }, confident: { type: "boolean" } },
  required: ["answer"],
};
console.log("");
for (const [name, schema] of [
  ["small schema (2 properties)", SMALL],
  ["large schema (40 properties, nested)", LARGE],
] as const) {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const events: CompileEvent[] = [];
    const fresh = await GrammarConstraintCompiler.create(loaded.tokenizer, loaded.model.config.vocabSize, {
      onCompile: (event) => events.push(event),
    });
    fresh.compile({ type: "json_schema", schema }).dispose?.();
    times.push(events[0].seconds);
  }
  console.log(`compile, ${name}: ${(median(times) * 1000).toFixed(0)} ms (median of ${rounds})`);
}
