/**
 * Finds OpenAI `stop` strings in streamed text without ever emitting any part of one.
 *
 * Fed the text deltas the detokeniser produces, the matcher emits at once everything that can no
 * longer be the start of a stop string and holds back the longest suffix that still could be, so a
 * stop string split across tokens is caught whole. When several stop strings could match, the one
 * completed first in the stream wins (generation stops as soon as any stop string has been
 * produced), and if several complete on the same character the longest, i.e. the one starting
 * earliest, is cut. This makes the result independent of how the text is split into deltas.
 *
 * Each stop string runs its own Knuth–Morris–Pratt automaton over the stream, so text costs
 * amortised O(stop strings) per character however long the stop strings are, and the automata's
 * positions double as the length of text to hold back. The state is plain data (`structuredClone` copies it).
 */
export interface StopStringMatcher {
  readonly stopStrings: readonly string[];
  /** Per stop string: failure[i] = length of its longest proper prefix that also ends its first i+1 characters. */
  readonly failureTables: readonly Int32Array[];
  /** Per stop string: the length of its longest prefix that the text so far ends with. */
  readonly matchedLengths: Int32Array;
  /** Received but not yet emitted: the longest suffix that may still begin a stop string. */
  heldText: string;
  stopped: boolean;
}

export interface StopStringOutput {
  /** Text that is safe to emit now; on a stop, the text before the stop string. */
  text: string;
  /** A stop string was completed: the sequence ends, and nothing more will be emitted. */
  stopped: boolean;
}

export function createStopStringMatcher(stopStrings: readonly string[]): StopStringMatcher {
  if (stopStrings.some((stop) => stop.length === 0)) throw new RangeError("a stop string cannot be empty");
  return {
    stopStrings: [...stopStrings],
    failureTables: stopStrings.map(failureTable),
    matchedLengths: new Int32Array(stopStrings.length),
    heldText: "",
    stopped: false,
  };
}

/** Takes the next delta of generated text; returns what can be emitted now. */
export function pushStopStringText(matcher: StopStringMatcher, delta: string): StopStringOutput {
  if (matcher.stopped) return { text: "", stopped: true };
  const { stopStrings, failureTables, matchedLengths } = matcher;
  const text = matcher.heldText + delta;

  for (let position = matcher.heldText.length; position < text.length; position++) {
    const char = text.charCodeAt(position);
    let completedLength = 0;
    for (let s = 0; s < stopStrings.length; s++) {
      const stop = stopStrings[s];
      const failure = failureTables[s];
      let matched = matchedLengths[s];
      while (matched > 0 && stop.charCodeAt(matched) !== char) matched = failure[matched - 1];
      if (stop.charCodeAt(matched) === char) matched++;
      if (matched === stop.length) completedLength = Math.max(completedLength, matched);
      matchedLengths[s] = matched;
    }
    if (completedLength > 0) {
      // Every character of the stop string before this one was part of a partial match, hence
      // held back: the cut lies within `text`, and nothing of the stop string was emitted.
      matcher.stopped = true;
      matcher.heldText = "";
      return { text: text.slice(0, position + 1 - completedLength), stopped: true };
    }
  }

  let holdLength = 0;
  for (const matched of matchedLengths) holdLength = Math.max(holdLength, matched);
  matcher.heldText = text.slice(text.length - holdLength);
  return { text: text.slice(0, text.length - holdLength), stopped: false };
}

/** The end of the stream: releases the held-back text, which can no longer become a stop string. */
export function finishStopStringMatcher(matcher: StopStringMatcher): string {
  const released = matcher.heldText;
  matcher.heldText = "";
  matcher.matchedLengths.fill(0);
  return released;
}

function failureTable(pattern: string): Int32Array {
  const failure = new Int32Array(pattern.length);
  let matched = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (matched > 0 && pattern.charCodeAt(i) !== pattern.charCodeAt(matched))
      matched = failure[matched - 1];
    if (pattern.charCodeAt(i) === pattern.charCodeAt(matched)) matched++;
    failure[i] = matched;
  }
  return failure;
}
