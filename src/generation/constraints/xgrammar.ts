import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type * as XgrammarApi from "@mlc-ai/web-xgrammar";

/**
 * xgrammar (the structured-generation engine of vLLM and SGLang) compiled to WebAssembly, as
 * `@mlc-ai/web-xgrammar` ships it, loaded for synchronous use.
 *
 * Two things stand between the package and Node. Its lib/index.js is a UMD bundle inside a
 * `"type": "module"` package, so `import` fails ("require is not defined in ES module scope");
 * we evaluate the bundle with the CommonJS wrapper it expects. And every method awaits the
 * WebAssembly module's start-up, while a logits processor must be synchronous; the embind
 * classes underneath are synchronous once the module has started, so at load time the bundle
 * gets one added export that hands out the started module, whose calls we make directly.
 *
 * xgrammar reports bad input by printing "[FATAL] file:line: message" to stderr and aborting
 * the WebAssembly call (a RuntimeError "Aborted()"). The module binds its stderr printer to
 * `console.error` when it starts, so we start it with a `console.error` that can be redirected:
 * `capture` turns such an abort into an XgrammarError carrying xgrammar's own message. Later
 * calls work after an abort (tested); the memory the aborted call had allocated is not freed,
 * which is why bad input is refused on the main thread before any worker sees it.
 */

/** The embind handle of a parsed grammar (no tokenizer yet). */
export interface GrammarHandle {
  ToString(): string;
  delete(): void;
}

/** The embind handle of a grammar compiled for one tokenizer. */
export interface CompiledGrammarHandle {
  delete(): void;
}

/** The embind handle of one sequence's position in a compiled grammar. */
export interface MatcherHandle {
  AcceptToken(token: number, verbose: boolean): boolean;
  GetNextTokenBitmask(vocabSize: number): { delete(): void };
  FindJumpForwardString(): string;
  IsTerminated(): boolean;
  delete(): void;
}

export interface GrammarCompilerHandle {
  CompileGrammar(grammar: GrammarHandle): CompiledGrammarHandle;
}

export interface TokenizerInfoHandle {
  delete(): void;
}

/** What we use of xgrammar, synchronously. */
export interface Xgrammar {
  readonly api: typeof XgrammarApi;
  fromEBNF(ebnf: string, rootRule?: string): GrammarHandle;
  /** The JSON grammar of `schema` (JSON text), compact: no whitespace outside strings. */
  fromJSONSchema(schema: string): GrammarHandle;
  fromStructuralTag(structuralTag: string): GrammarHandle;
  tokenizerInfo(
    vocabulary: readonly string[],
    type: "byte_level" | "byte_fallback" | "raw",
    prependsSpace: boolean,
    vocabSize: number,
    stopTokenIds: readonly number[],
  ): TokenizerInfoHandle;
  /** Single-threaded, with no cache of its own (the caller keeps one). */
  grammarCompiler(info: TokenizerInfoHandle): GrammarCompilerHandle;
  matcher(compiled: CompiledGrammarHandle): MatcherHandle;
  /** Calls `read` with the allowed-token bitmask (bit t%32 of word t/32), valid only during the call. */
  readBitmask(matcher: MatcherHandle, vocabSize: number, read: (bitmask: Int32Array) => void): void;
  /** Runs `call`; an xgrammar abort becomes an XgrammarError with xgrammar's message. */
  capture<T>(call: () => T): T;
}

/** Bad input as xgrammar describes it ("Unsupported type \"foo\""). */
export class XgrammarError extends Error {
  override readonly name = "XgrammarError";
}

/** The line of the bundle after which its module-level `binding` exists. */
const BINDING_HOOK = "\n  var index = { Grammar, GrammarCompiler,";

type XgrammarBundle = typeof XgrammarApi & { binding(): Binding | null };

const PACKAGE_ENTRY = createRequire(import.meta.url).resolve("@mlc-ai/web-xgrammar");

let loading: Promise<Xgrammar> | undefined;

/** xgrammar, started once per thread. */
export function loadXgrammar(): Promise<Xgrammar> {
  loading ??= start();
  return loading;
}

/** Evaluates the UMD bundle as the CommonJS module it is written to be. */
export function evaluateBundle(path: string): XgrammarBundle {
  const source = readFileSync(path, "utf8");
  if (!source.includes(BINDING_HOOK))
    throw new Error(`${path} is not the xgrammar bundle this loader knows: no "${BINDING_HOOK.trim()}"`);
  // The bundle keeps its started WebAssembly module (`binding`) in a closure; one added export
  // reaches it, so the synchronous calls need no copy of the bundle's wrappers.
  // Its one dynamic import (of node:module) becomes a require: code made by `new Function` has no
  // module loader of its own to import with (under vitest's module runner, for one).
  const hooked = source
    .replace(BINDING_HOOK, `exports.binding = () => binding;${BINDING_HOOK}`)
    .replaceAll("await import('module')", "require('module')");
  const module = { exports: {} as Record<string, unknown> };
  const wrapper = new Function("module", "exports", "require", "__filename", "__dirname", hooked);
  wrapper.call(module.exports, module, module.exports, createRequire(path), path, dirname(path));
  return module.exports as unknown as XgrammarBundle;
}

async function start(): Promise<Xgrammar> {
  const api = evaluateBundle(PACKAGE_ENTRY);
  let captured: string[] | null = null;
  const consoleError = console.error;
  // The module binds whatever console.error is while it starts; it starts on the first call.
  console.error = (...args: unknown[]) => {
    if (captured) captured.push(args.map(String).join(" "));
    else consoleError.apply(console, args);
  };
  try {
    (await api.Grammar.fromEBNF('root ::= "a"')).dispose();
  } finally {
    console.error = consoleError;
  }
  const binding = api.binding();
  if (!binding) throw new Error("xgrammar's WebAssembly module did not start");

  const capture = <T>(call: () => T): T => {
    const outer = captured;
    captured = [];
    const lines = captured;
    try {
      return call();
    } catch (error) {
      throw new XgrammarError(fatalMessage(lines) ?? (error as Error).message ?? String(error), {
        cause: error,
      });
    } finally {
      captured = outer;
    }
  };
  return {
    api,
    capture,
    fromEBNF: (ebnf, rootRule = "root") => binding.Grammar.FromEBNF(ebnf, rootRule),
    // anyWhitespace false and no indent: one line, ", " and ": " between items, so a small model
    // cannot wander into endless whitespace (a failure vLLM users report with any_whitespace).
    fromJSONSchema: (schema) =>
      binding.Grammar.FromJSONSchema(schema, false, undefined, undefined, true, undefined, false),
    fromStructuralTag: (structuralTag) => binding.Grammar.FromStructuralTag(structuralTag),
    tokenizerInfo: (vocabulary, type, prependsSpace, vocabSize, stopTokenIds) =>
      new binding.TokenizerInfo(
        binding.vecStringFromJSArray(vocabulary),
        type.toUpperCase(),
        vocabSize,
        binding.vecIntFromJSArray(stopTokenIds),
        prependsSpace,
      ),
    grammarCompiler: (info) => new binding.GrammarCompiler(info, 1, false),
    matcher: (compiled) => new binding.GrammarMatcher(compiled, undefined, false, -1),
    readBitmask: (matcher, vocabSize, read) => {
      const vector = matcher.GetNextTokenBitmask(vocabSize);
      try {
        read(binding.vecIntToView(vector));
      } finally {
        vector.delete();
      }
    },
  };
}

/** The embind classes and helpers of the started module, as far as we call them. */
interface Binding {
  Grammar: {
    FromEBNF(ebnf: string, rootRule: string): GrammarHandle;
    FromJSONSchema(
      schema: string,
      anyWhitespace: boolean,
      indent: number | undefined,
      separators: { first: string; second: string } | undefined,
      strictMode: boolean,
      maxWhitespaceCount: number | undefined,
      printConvertedEbnf: boolean,
    ): GrammarHandle;
    FromStructuralTag(structuralTag: string): GrammarHandle;
  };
  TokenizerInfo: new (
    vocabulary: unknown,
    type: string,
    vocabSize: number,
    stopTokenIds: unknown,
    prependsSpace: boolean,
  ) => TokenizerInfoHandle;
  GrammarCompiler: new (info: TokenizerInfoHandle, threads: number, cache: boolean) => GrammarCompilerHandle;
  GrammarMatcher: new (
    compiled: CompiledGrammarHandle,
    stopTokenIds: undefined,
    terminateWithoutStopToken: boolean,
    maxRollbackTokens: number,
  ) => MatcherHandle;
  vecStringFromJSArray(values: readonly string[]): unknown;
  vecIntFromJSArray(values: readonly number[]): unknown;
  vecIntToView(vector: unknown): Int32Array;
}

/** "Unsupported type \"foo\"" from "[FATAL] /path/json_schema_converter.cc:902: Unsupported ...". */
function fatalMessage(lines: readonly string[]): string | undefined {
  const line = lines.find((text) => text.includes("[FATAL]"));
  if (line === undefined) return undefined;
  const match = /\[FATAL\]\s+\S+?:\d+:\s*([\s\S]*)$/.exec(line);
  return (match ? match[1] : line).trim();
}
