import type { LogitsProcessor } from "../../engine/sampling/index.js";
import type { Detokenizer } from "../../tokenizer/index.js";
import type { OutputConstraint } from "../sequence-spec.js";
import { constraintGrammar, constraintKey } from "./grammar.js";
import { maskInvalidUtf8, type Utf8Guard, utf8Guard } from "./utf8-guard.js";
import type { CompiledGrammarHandle, GrammarCompilerHandle, MatcherHandle, Xgrammar } from "./xgrammar.js";
import { loadXgrammar } from "./xgrammar.js";

/**
 * The worker's constraint compiler: an output constraint → an xgrammar grammar compiled for this
 * model's vocabulary (kept in an LRU keyed by the constraint's canonical hash, since many requests
 * share a schema and compiling costs tens to hundreds of milliseconds) → one logits processor per
 * sequence, holding that sequence's matcher.
 */

/** Compiled grammars kept per worker (each holds a per-token mask cache: ~100 KB to a few MB). */
export const DEFAULT_COMPILED_GRAMMAR_CACHE = 64;

/** What happened at one compile request, for metrics. */
export interface CompileEvent {
  readonly kind: OutputConstraint["type"];
  /** Served from the cache. */
  readonly cached: boolean;
  /** Time spent compiling (0 when cached). */
  readonly seconds: number;
}

export interface GrammarCompilerOptions {
  readonly cacheSize?: number;
  readonly onCompile?: (event: CompileEvent) => void;
}

export class GrammarConstraintCompiler {
  private readonly cache = new Map<string, CompiledGrammarHandle>();

  private constructor(
    private readonly xgrammar: Xgrammar,
    private readonly compiler: GrammarCompilerHandle,
    private readonly vocabSize: number,
    private readonly guard: Utf8Guard,
    private readonly options: GrammarCompilerOptions,
  ) {}

  /** A compiler for `tokenizer`'s vocabulary, padded to the model's `vocabSize` (its logits). */
  static async create(
    tokenizer: Detokenizer,
    vocabSize: number,
    options: GrammarCompilerOptions = {},
  ): Promise<GrammarConstraintCompiler> {
    const xgrammar = await loadXgrammar();
    const vocabulary = Array.from(
      { length: Math.min(tokenizer.vocabSize, vocabSize) },
      (_, id) => tokenizer.idToToken(id) ?? "",
    );
    const stopTokenIds = tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId];
    const info = xgrammar.capture(() =>
      xgrammar.tokenizerInfo(
        vocabulary,
        tokenizer.vocabularyType,
        tokenizer.prependsSpace,
        vocabSize,
        stopTokenIds,
      ),
    );
    return new GrammarConstraintCompiler(
      xgrammar,
      xgrammar.grammarCompiler(info),
      vocabSize,
      utf8Guard(tokenizer, vocabSize),
      options,
    );
  }

  /** Compiled grammars held now. */
  get cachedGrammars(): number {
    return this.cache.size;
  }

  /** The processor enforcing `constraint` on one sequence. Throws ConstraintError for bad input. */
  readonly compile = (constraint: OutputConstraint): LogitsProcessor => {
    const compiled = this.compiled(constraint);
    return grammarProcessor(this.xgrammar, compiled, this.vocabSize, this.guard, []);
  };

  private compiled(constraint: OutputConstraint): CompiledGrammarHandle {
    const key = constraintKey(constraint);
    const hit = this.cache.get(key);
    if (hit) {
      // Most recently used last: Map keeps insertion order.
      this.cache.delete(key);
      this.cache.set(key, hit);
      this.options.onCompile?.({ kind: constraint.type, cached: true, seconds: 0 });
      return hit;
    }
    const started = performance.now();
    const grammar = constraintGrammar(this.xgrammar, constraint);
    let compiled: CompiledGrammarHandle;
    try {
      compiled = this.xgrammar.capture(() => this.compiler.CompileGrammar(grammar));
    } finally {
      grammar.delete();
    }
    const seconds = (performance.now() - started) / 1000;
    this.options.onCompile?.({ kind: constraint.type, cached: false, seconds });
    this.cache.set(key, compiled);
    const limit = this.options.cacheSize ?? DEFAULT_COMPILED_GRAMMAR_CACHE;
    // A running sequence's matcher keeps its own reference to the compiled grammar (xgrammar's
    // handles share ownership), so evicting one in use is safe.
    while (this.cache.size > limit) {
      const [oldestKey, oldest] = this.cache.entries().next().value as [string, CompiledGrammarHandle];
      this.cache.delete(oldestKey);
      oldest.delete();
    }
    return compiled;
  }
}

/**
 * One sequence's grammar: process() sets every token the grammar forbids next to -inf; accept()
 * advances the matcher. Once the grammar is complete only the stop tokens are allowed, so the
 * sequence ends with finish_reason "stop".
 */
function grammarProcessor(
  xgrammar: Xgrammar,
  compiled: CompiledGrammarHandle,
  vocabSize: number,
  guard: Utf8Guard,
  history: readonly number[],
): LogitsProcessor {
  const matcher: MatcherHandle = xgrammar.matcher(compiled);
  const accepted = [...history];
  let rejected = false;
  for (const token of accepted) matcher.AcceptToken(token, false);
  const maskForbidden = (logits: Float32Array) => {
    maskInvalidUtf8(guard, logits, accepted.length === 0 ? null : accepted[accepted.length - 1]);
    xgrammar.readBitmask(matcher, vocabSize, (bitmask) => {
      for (let word = 0; word < bitmask.length; word++) {
        const bits = bitmask[word];
        if (bits === -1) continue;
        const first = word * 32;
        const end = Math.min(first + 32, logits.length);
        // Most words of a mask are all forbidden (inside JSON syntax, nearly every token is).
        if (bits === 0) logits.fill(Number.NEGATIVE_INFINITY, first, end);
        else
          for (let token = first; token < end; token++)
            if ((bits & (1 << (token - first))) === 0) logits[token] = Number.NEGATIVE_INFINITY;
      }
    });
  };
  return {
    process: maskForbidden,
    accept(token) {
      accepted.push(token);
      if (!matcher.AcceptToken(token, false)) rejected = true;
    },
    clone: () => grammarProcessor(xgrammar, compiled, vocabSize, guard, accepted),
    isFinished: () => rejected || matcher.IsTerminated(),
    dispose: () => matcher.delete(),
  };
}
