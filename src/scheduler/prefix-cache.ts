import type { PromptTokenLogprobs } from "../generation/prompt-scoring.js";

/**
 * The prefix state cache. A recurrent model's whole memory of a prompt prefix is one
 * constant-size state (layers x hidden floats), so a prefix many requests share, such as a chat
 * system prompt, needs prefilling once: later requests start from a copy of its state.
 *
 * Entries are keyed by their exact token prefix and evicted least recently used first; every
 * entry is the same size (stateBytes), so the entry bound is also the byte bound. Lookups hash
 * the prompt's prefixes in one pass and check only the lengths the cache holds, then compare the
 * tokens of a candidate, so a hash collision can never return a wrong state.
 */

interface CacheEntry {
  readonly tokens: readonly number[];
  readonly values: Float32Array;
  readonly scored?: ScoredPrefix;
}

/**
 * The scores of a cached prefix's prompt tokens, kept with its state: positions 0 .. length - 1
 * (position 0 null), and the logits of the last row, which score whatever token follows. A prompt
 * that continues the prefix is scored whole without feeding it again (src/generation/prompt-scoring.ts).
 */
export interface ScoredPrefix {
  readonly logprobs: readonly (PromptTokenLogprobs | null)[];
  readonly nextLogits: Float32Array;
  /** Alternatives each position has; serves requests for as many or fewer. */
  readonly alternatives: number;
}

export interface CachedPrefix {
  /** Prompt tokens the state has consumed. */
  readonly tokens: number;
  /** The cache's own copy: copy it before handing it to anything that changes or transfers it. */
  readonly values: Float32Array;
  readonly scored?: ScoredPrefix;
}

/** Where a prompt starts, and where its states are worth keeping, by the cache's contents now. */
export interface PrefixPlan {
  readonly cached: CachedPrefix | undefined;
  /** Prompt lengths (ascending) after which the state should be reported and stored. */
  readonly snapshotAt: readonly number[];
}

/**
 * Recent prompts compared with each new one for a branch point: enough for the requests an
 * evaluation harness has in flight, and at most this many x prompt length comparisons a plan.
 */
const RECENT_PROMPTS = 64;
/** A shorter shared prefix (a bos, a few words) is cheaper to feed again than to keep a state for. */
const MIN_BRANCH_TOKENS = 16;

export class PrefixStateCache {
  /** Map order is the LRU order: oldest first. */
  private readonly entries = new Map<string, CacheEntry>();
  /** How many entries have each prefix length. */
  private readonly lengths = new Map<number, number>();
  /** The prompts planned last, newest last: where a new prompt branches off one, a state is worth keeping. */
  private readonly recentPrompts: (readonly number[])[] = [];
  /** Branch states a running sequence will report: a prompt that continues one waits for it. */
  private readonly pending = new Map<string, PendingPrefix>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cache's policy for one prompt: start from its longest cached prefix, and store the states
   * after all but its last token (the most an identical prompt can reuse, since one token must
   * remain to feed) and at the `hints` (e.g. the end of a chat's system turn) that lie past that
   * prefix and are not cached yet. Also where the prompt branches off a recent one (their longest
   * common prefix): prompts that share a context and differ after it, as an evaluation harness
   * sends a question with each of its answers, then start from the shared context's state from
   * the third on (the first two show where the branch is).
   */
  plan(promptIds: readonly number[], hints: readonly number[], scoring: number | null = null): PrefixPlan {
    if (this.maxEntries === 0) return { cached: undefined, snapshotAt: [] };
    const cached = this.lookup(promptIds, scoring);
    const fromToken = cached?.tokens ?? 0;
    const branch = this.branchPoint(promptIds);
    if (branch > fromToken && !this.has(promptIds, branch, scoring)) this.expect(promptIds, branch, scoring);
    const snapshotAt = [...new Set([promptIds.length - 1, ...hints, ...(branch > 0 ? [branch] : [])])]
      .filter((at) => at > fromToken && at < promptIds.length && !this.has(promptIds, at, scoring))
      .sort((a, b) => a - b);
    return { cached, snapshotAt };
  }

  /**
   * A state that a running sequence will report and that would serve `promptIds` further than the
   * cache does now: resolves when it is stored, or when that sequence ended without it. Waiting
   * for it costs the time to prefill the shared part once instead of feeding it twice at once.
   */
  pendingPrefix(promptIds: readonly number[], scoring: number | null = null): Promise<void> | undefined {
    if (this.maxEntries === 0 || this.pending.size === 0) return undefined;
    const from = this.lookup(promptIds, scoring)?.tokens ?? 0;
    let best: PendingPrefix | undefined;
    for (const entry of this.pending.values()) {
      const { tokens } = entry;
      if (tokens.length <= from || tokens.length >= promptIds.length || !startsWith(promptIds, tokens))
        continue;
      if (scoring !== null && (entry.scoring === null || entry.scoring < scoring)) continue;
      if (!best || tokens.length > best.tokens.length) best = entry;
    }
    return best?.done;
  }

  /** The sequence that was to report these states has ended: whoever waits for one stops waiting. */
  settle(promptIds: readonly number[], lengths: readonly number[]): void {
    for (const length of lengths)
      this.resolvePending(entryKey(length, prefixHashes(promptIds, length)), promptIds);
  }

  private expect(promptIds: readonly number[], length: number, scoring: number | null): void {
    const key = entryKey(length, prefixHashes(promptIds, length));
    if (this.pending.has(key)) return;
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    this.pending.set(key, { tokens: promptIds.slice(0, length), scoring, done, resolve });
  }

  private resolvePending(key: string, promptIds: readonly number[]): void {
    const entry = this.pending.get(key);
    if (!entry || !startsWith(promptIds, entry.tokens)) return;
    this.pending.delete(key);
    entry.resolve();
  }

  /** The longest prefix `promptIds` shares with a recent different prompt (0 if none); remembers it. */
  private branchPoint(promptIds: readonly number[]): number {
    let longest = 0;
    for (const recent of this.recentPrompts) {
      const shared = commonPrefixLength(promptIds, recent);
      if (shared < promptIds.length && shared < recent.length && shared > longest) longest = shared;
    }
    if (longest < MIN_BRANCH_TOKENS) longest = 0;
    this.recentPrompts.push(promptIds);
    if (this.recentPrompts.length > RECENT_PROMPTS) this.recentPrompts.shift();
    return longest;
  }

  /**
   * The longest cached prefix of `promptIds` that leaves at least one token to feed; for a prompt
   * to be scored (`scoring`: its alternatives), only prefixes scored with as many alternatives.
   */
  lookup(promptIds: readonly number[], scoring: number | null = null): CachedPrefix | undefined {
    if (this.entries.size === 0) return undefined;
    const hashes = prefixHashes(promptIds);
    const candidates = [...this.lengths.keys()].filter((n) => n < promptIds.length).sort((a, b) => b - a);
    for (const length of candidates) {
      const key = entryKey(length, hashes);
      const entry = this.entries.get(key);
      if (!entry || !startsWith(promptIds, entry.tokens) || !servesScoring(entry, scoring)) continue;
      this.entries.delete(key);
      this.entries.set(key, entry);
      return { tokens: length, values: entry.values, ...(entry.scored ? { scored: entry.scored } : {}) };
    }
    return undefined;
  }

  has(promptIds: readonly number[], length: number, scoring: number | null = null): boolean {
    if (length > promptIds.length) return false;
    const entry = this.entries.get(entryKey(length, prefixHashes(promptIds, length)));
    return entry !== undefined && startsWith(promptIds, entry.tokens) && servesScoring(entry, scoring);
  }

  /**
   * Keeps `values` (not copied) as the state after `promptIds[0 .. length)`, with its scores when
   * the prompt was scored; an unscored state keeps the scores an entry already had.
   */
  store(promptIds: readonly number[], length: number, values: Float32Array, scored?: ScoredPrefix): void {
    if (this.maxEntries === 0 || length < 1 || length > promptIds.length) return;
    const key = entryKey(length, prefixHashes(promptIds, length));
    const kept = this.entries.get(key);
    const keptScores = kept && startsWith(promptIds, kept.tokens) ? kept.scored : undefined;
    const scores = scored ?? keptScores;
    if (this.entries.delete(key)) this.countLength(length, -1);
    this.entries.set(key, {
      tokens: promptIds.slice(0, length),
      values,
      ...(scores ? { scored: scores } : {}),
    });
    this.resolvePending(key, promptIds);
    this.countLength(length, +1);
    while (this.entries.size > this.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      this.countLength(oldest.tokens.length, -1);
    }
  }

  private countLength(length: number, change: number): void {
    const count = (this.lengths.get(length) ?? 0) + change;
    if (count === 0) this.lengths.delete(length);
    else this.lengths.set(length, count);
  }
}

interface PendingPrefix {
  readonly tokens: readonly number[];
  /** Alternatives its scores will have; null: not scored. */
  readonly scoring: number | null;
  readonly done: Promise<void>;
  readonly resolve: () => void;
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const length = Math.min(a.length, b.length);
  let shared = 0;
  while (shared < length && a[shared] === b[shared]) shared++;
  return shared;
}

function servesScoring(entry: CacheEntry, scoring: number | null): boolean {
  return scoring === null || (entry.scored !== undefined && entry.scored.alternatives >= scoring);
}

/** Two 32-bit polynomial hashes of every prefix: [h1, h2] of promptIds[0 .. n) at 2n, 2n + 1. */
function prefixHashes(ids: readonly number[], upTo = ids.length): Uint32Array {
  const hashes = new Uint32Array(2 * (upTo + 1));
  let a = 0x811c9dc5;
  let b = 0x01000193;
  hashes[0] = a;
  hashes[1] = b;
  for (let i = 0; i < upTo; i++) {
    a = (Math.imul(a, 0x01000193) + ids[i] + 1) >>> 0;
    b = (Math.imul(b ^ ids[i], 0x5bd1e995) + 0x9e3779b9) >>> 0;
    hashes[2 * (i + 1)] = a;
    hashes[2 * (i + 1) + 1] = b;
  }
  return hashes;
}

function entryKey(length: number, hashes: Uint32Array): string {
  return `${length}:${hashes[2 * length]}:${hashes[2 * length + 1]}`;
}

function startsWith(ids: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > ids.length) return false;
  for (let i = 0; i < prefix.length; i++) if (ids[i] !== prefix[i]) return false;
  return true;
}
