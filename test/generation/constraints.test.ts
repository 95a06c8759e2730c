import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { writeRandomCheckpoint } from "../../bench/random-checkpoint.js";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import type { SamplingParams } from "../../src/engine/sampling/index.js";
import { BatchGenerator, type GeneratedToken } from "../../src/generation/batch-generator.js";
import { type CompileEvent, GrammarConstraintCompiler } from "../../src/generation/constraints/compiler.js";
import {
  ConstraintError,
  constraintGrammar,
  constraintKey,
} from "../../src/generation/constraints/grammar.js";
import { evaluateBundle, loadXgrammar } from "../../src/generation/constraints/xgrammar.js";
import type { OutputConstraint, SequenceSpec } from "../../src/generation/sequence-spec.js";
import { type LoadedModel, loadModel } from "../../src/model/loaded-model.js";
import { BYTELEVEL_TOKENIZER, makeRandomTestModel } from "../helpers/random-model.js";
import { testSpec } from "../helpers/sequence-spec.js";

const LLAMA_TOKENIZER = join(
  import.meta.dirname,
  "..",
  "fixtures",
  "tokenizers",
  "llama-32000",
  "tokenizer.json",
);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Random weights make every token plausible: the grammar, not the model, keeps the output valid. */
function byteLevelModel(): LoadedModel {
  const dir = makeRandomTestModel();
  dirs.push(dir);
  return loadModel(dir);
}

function byteFallbackModel(): LoadedModel {
  const dir = mkdtempSync(join(tmpdir(), "trine-llama-vocab-"));
  dirs.push(dir);
  writeRandomCheckpoint(dir, {
    vocabSize: 32000,
    hiddenSize: 32,
    numLayers: 1,
    tokenizerJson: LLAMA_TOKENIZER,
    bosTokenId: 1,
    eosTokenId: 2,
  });
  return loadModel(dir);
}

interface Run {
  tokens: number[];
  text: string;
  finishReason: string | null;
}

function generate(loaded: LoadedModel, compiler: GrammarConstraintCompiler, specs: SequenceSpec[]): Run[] {
  const generator = new BatchGenerator(loaded.model, loaded.tokenizer, referenceKernel, {
    compileConstraint: compiler.compile,
  });
  const ids = specs.map((spec) => generator.add(spec));
  const runs = new Map(ids.map((id) => [id, { tokens: [] as number[], text: "", finishReason: null }]));
  while (generator.size > 0)
    for (const t of generator.step().tokens) record(runs.get(t.sequenceId) as Run, t);
  return ids.map((id) => runs.get(id) as Run);
}

function record(run: Run, t: GeneratedToken): void {
  run.tokens.push(t.token);
  run.text += t.text;
  run.finishReason = t.finishReason;
}

function constrainedSpec(
  loaded: LoadedModel,
  constraint: OutputConstraint | null,
  sampling: SamplingParams = { temperature: 1, seed: 7 },
  maxTokens = 200,
): SequenceSpec {
  const eos = loaded.tokenizer.eosTokenId as number;
  return testSpec(loaded.tokenizer.encode("Answer:"), sampling, {
    constraint,
    maxTokens,
    stopTokenIds: [eos],
  });
}

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    score: { type: ["number", "null"], exclusiveMinimum: -1.5, maximum: 2.25 },
    tags: { type: "array", items: { enum: ["a", "b", "c"] }, minItems: 1, maxItems: 3 },
  },
  required: ["name", "age", "score", "tags"],
  additionalProperties: false,
};

describe("the xgrammar loader", () => {
  it("is needed: the package's UMD bundle cannot be imported as the ES module it claims to be", async () => {
    await expect(import("@mlc-ai/web-xgrammar")).rejects.toThrow(
      /require is not defined|exports is not defined/,
    );
  });

  it("evaluates the bundle as CommonJS and reaches the started module synchronously", async () => {
    const path = createRequire(import.meta.url).resolve("@mlc-ai/web-xgrammar");
    const bundle = evaluateBundle(path);
    expect(typeof bundle.GrammarMatcher.createGrammarMatcher).toBe("function");
    expect(bundle.binding()).toBeNull(); // not started until the first call
    const xgrammar = await loadXgrammar();
    const grammar = xgrammar.fromEBNF('root ::= "yes" | "no"');
    expect(grammar.ToString()).toContain("yes");
    grammar.delete();
  });

  it("turns xgrammar's aborts into errors with its message, and keeps working after one", async () => {
    const xgrammar = await loadXgrammar();
    expect(() => constraintGrammar(xgrammar, { type: "json_schema", schema: { type: "foo" } })).toThrow(
      new ConstraintError('Unsupported type "foo"'),
    );
    expect(() => constraintGrammar(xgrammar, { type: "grammar", ebnf: "root ::= " })).toThrow(
      /EBNF parser error at line 1/,
    );
    expect(() => constraintGrammar(xgrammar, { type: "regex", pattern: "a(b" })).toThrow(ConstraintError);
    expect(() => constraintGrammar(xgrammar, { type: "choice", choices: [] })).toThrow(ConstraintError);
    const good = constraintGrammar(xgrammar, { type: "json_schema", schema: PERSON });
    expect(good.ToString()).toContain("root");
    good.delete();
  });

  it("keys a constraint by its canonical form: key order does not matter, content does", () => {
    const a = constraintKey({ type: "json_schema", schema: { type: "object", properties: { x: {} } } });
    const b = constraintKey({ type: "json_schema", schema: { properties: { x: {} }, type: "object" } });
    const c = constraintKey({ type: "json_schema", schema: { type: "object", properties: { y: {} } } });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });
});

describe.each([
  ["byte-level BPE (the shipped model's kind)", byteLevelModel],
  ["byte-fallback (Llama's 32000 vocabulary)", byteFallbackModel],
])("constrained generation with a %s vocabulary", (_, makeModel) => {
  const loaded = makeModel();
  const events: CompileEvent[] = [];
  const compiling = GrammarConstraintCompiler.create(loaded.tokenizer, loaded.model.config.vocabSize, {
    onCompile: (event) => events.push(event),
  });

  it("every output of a JSON schema parses and validates, and ends with finish_reason stop", async () => {
    const compiler = await compiling;
    const validate = new Ajv().compile(PERSON);
    const specs = [1, 2, 3, 4].map((seed) =>
      constrainedSpec(loaded, { type: "json_schema", schema: PERSON }, { temperature: 1, seed }),
    );
    for (const run of generate(loaded, compiler, specs)) {
      expect(run.finishReason).toBe("stop");
      expect(validate(JSON.parse(run.text)), run.text).toBe(true);
    }
    expect(events.filter((e) => e.kind === "json_schema").map((e) => e.cached)).toEqual([
      false,
      true,
      true,
      true,
    ]);
  });

  it("regex, choice, grammar and json_object outputs match", async () => {
    const compiler = await compiling;
    const [regex, choice, grammar, object] = generate(loaded, compiler, [
      constrainedSpec(loaded, { type: "regex", pattern: "[0-9]{3}-[a-z]{2,4}" }),
      constrainedSpec(loaded, { type: "choice", choices: ["positive", "negative", 'naïve "quote"'] }),
      constrainedSpec(loaded, {
        type: "grammar",
        ebnf: 'root ::= "(" num ("+" num)* ")"\nnum ::= [1-9] [0-9]?',
      }),
      constrainedSpec(loaded, { type: "json_object" }, { temperature: 1, seed: 3 }, 120),
    ]);
    expect(regex.text).toMatch(/^[0-9]{3}-[a-z]{2,4}$/);
    expect(["positive", "negative", 'naïve "quote"']).toContain(choice.text);
    expect(grammar.text).toMatch(/^\([1-9][0-9]?(\+[1-9][0-9]?)*\)$/);
    for (const run of [regex, choice, grammar]) expect(run.finishReason).toBe("stop");
    if (object.finishReason === "stop") expect(typeof JSON.parse(object.text)).toBe("object");
    else expect(object.finishReason).toBe("length");
  });

  it("a grammar that cannot finish within max_tokens ends with finish_reason length", async () => {
    const compiler = await compiling;
    const [run] = generate(loaded, compiler, [
      constrainedSpec(loaded, { type: "regex", pattern: "x{50}" }, { temperature: 0 }, 5),
    ]);
    expect(run.finishReason).toBe("length");
    expect(run.text).toMatch(/^x+$/);
  });

  it("a constrained sequence batched with 15 unconstrained ones makes the same tokens as alone", async () => {
    const compiler = await compiling;
    const constrained = constrainedSpec(
      loaded,
      { type: "json_schema", schema: PERSON },
      { temperature: 1, seed: 11 },
    );
    const [alone] = generate(loaded, compiler, [constrained]);
    const neighbours = Array.from({ length: 15 }, (_, i) =>
      constrainedSpec(loaded, null, { temperature: 1, seed: 100 + i }, 30),
    );
    const together = generate(loaded, compiler, [
      ...neighbours.slice(0, 7),
      constrained,
      ...neighbours.slice(7),
    ]);
    expect(together[7].tokens).toEqual(alone.tokens);
  });

  it("with ignore_eos (eos not a stop token) the grammar's completion still ends the sequence", async () => {
    const compiler = await compiling;
    const spec = { ...constrainedSpec(loaded, { type: "choice", choices: ["yes", "no"] }), stopTokenIds: [] };
    const [run] = generate(loaded, compiler, [spec]);
    expect(["yes", "no"]).toContain(run.text);
    expect(run.finishReason).toBe("stop");
  });
});

it("the compiled-grammar cache is bounded, least recently used out first", async () => {
  const loaded = byteLevelModel();
  const events: CompileEvent[] = [];
  const compiler = await GrammarConstraintCompiler.create(loaded.tokenizer, loaded.model.config.vocabSize, {
    cacheSize: 2,
    onCompile: (event) => events.push(event),
  });
  const choice = (word: string): OutputConstraint => ({ type: "choice", choices: [word] });
  for (const word of ["a", "b", "a", "c", "a", "b"]) compiler.compile(choice(word)).dispose?.();
  expect(events.map((e) => e.cached)).toEqual([false, false, true, false, true, false]);
  expect(compiler.cachedGrammars).toBe(2);

  // A running sequence's matcher outlives its grammar's eviction: it holds its own reference.
  const running = compiler.compile({ type: "choice", choices: ["yes"] });
  for (const word of ["x", "y", "z"]) compiler.compile(choice(word)).dispose?.();
  const logits = new Float32Array(loaded.model.config.vocabSize);
  running.process(logits);
  const allowed = [...logits.keys()].filter((token) => logits[token] > Number.NEGATIVE_INFINITY);
  expect(allowed.length).toBeGreaterThan(0);
  expect(allowed.every((token) => "yes".startsWith(loaded.tokenizer.decode([token])))).toBe(true);
  running.dispose?.();
});

it("uses the tokenizer's vocabulary kind", () => {
  expect(byteLevelModel().tokenizer.vocabularyType).toBe("byte_level");
  const llama = byteFallbackModel().tokenizer;
  expect(llama.vocabularyType).toBe("byte_fallback");
  expect(llama.prependsSpace).toBe(true);
  expect(BYTELEVEL_TOKENIZER).toContain("bytelevel");
});

describe("random schemas in the supported subset (property test)", () => {
  const loaded = byteLevelModel();
  const compiling = GrammarConstraintCompiler.create(loaded.tokenizer, loaded.model.config.vocabSize);
  const name = fc.constantFrom("a", "b", "c", "d", "e");
  const bound = fc.option(fc.integer({ min: -40, max: 40 }), { nil: undefined });
  const leaf = fc.oneof(
    fc
      .integer({ min: 0, max: 6 })
      .map((maxLength) => ({ type: "string", minLength: Math.min(1, maxLength), maxLength })),
    fc
      .constantFrom("[a-z]{1,4}", "(yes|no)", "[0-9]{2}-[A-Z]", "x.y")
      .map((pattern) => ({ type: "string", pattern })),
    fc.tuple(bound, bound).map(([minimum, maximum]) => ({
      type: "integer",
      ...(minimum === undefined ? {} : { minimum }),
      ...(maximum === undefined ? {} : { maximum: Math.max(maximum, minimum ?? maximum) }),
    })),
    fc
      .tuple(fc.double({ min: -5, max: 5, noNaN: true }), fc.double({ min: 0, max: 9, noNaN: true }))
      .map(([low, span]) => ({
        type: "number",
        exclusiveMinimum: low,
        maximum: low + span + 0.5,
      })),
    fc.constant({ type: "boolean" }),
    fc.constant({ type: "null" }),
    fc.constant({ type: ["integer", "null"], maximum: 3, minimum: -3 }),
    fc
      .uniqueArray(
        fc.oneof(fc.constantFrom("red", "green"), fc.integer({ min: 0, max: 9 }), fc.constant(null)),
        {
          minLength: 1,
          maxLength: 3,
        },
      )
      .map((values) => ({ enum: values })),
    fc.constantFrom({ const: "fixed" }, { const: 42 }, { const: [1, "two"] }),
  );
  const schema = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      tie("object"),
      tie("array"),
      tie("anyOf"),
    ),
    object: fc
      .uniqueArray(fc.tuple(name, tie("node")), { maxLength: 3, selector: ([key]) => key })
      .chain((entries) =>
        fc.subarray(entries.map(([key]) => key)).map((required) => ({
          type: "object",
          properties: Object.fromEntries(entries),
          required,
          additionalProperties: false,
        })),
      ),
    array: fc
      .tuple(tie("node"), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }))
      .map(([items, min, extra]) => ({
        type: "array",
        items,
        minItems: min,
        maxItems: min + extra,
      })),
    anyOf: fc.tuple(tie("node"), tie("node")).map((options) => ({ anyOf: options })),
  })).node;
  const withDefinitions = fc.tuple(schema, schema).map(([definition, root]) => ({
    $defs: { item: definition },
    type: "object",
    properties: { item: { $ref: "#/$defs/item" }, rest: root },
    required: ["item", "rest"],
    additionalProperties: false,
  }));

  it("every finished output parses and validates with ajv", async () => {
    const compiler = await compiling;
    const ajv = new Ajv({ strict: false });
    let finished = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(schema, withDefinitions),
        fc.integer({ min: 1, max: 1000 }),
        async (jsonSchema, seed) => {
          const [run] = generate(loaded, compiler, [
            constrainedSpec(
              loaded,
              { type: "json_schema", schema: jsonSchema },
              { temperature: 1, seed },
              300,
            ),
          ]);
          if (run.finishReason !== "stop") return;
          finished++;
          const validate = ajv.compile(jsonSchema as object);
          const value = JSON.parse(run.text);
          expect(validate(value), `${run.text} against ${JSON.stringify(jsonSchema)}`).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
    expect(finished).toBeGreaterThan(40);
  });
});
