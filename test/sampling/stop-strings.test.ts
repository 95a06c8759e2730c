import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createStopStringMatcher,
  finishStopStringMatcher,
  pushStopStringText,
} from "../../src/engine/sampling/stop-strings.js";

interface Stream {
  /** Each push's emitted text, then finish()'s (if not stopped). */
  pieces: string[];
  emitted: string;
  stopped: boolean;
}

function stream(stopStrings: string[], deltas: string[]): Stream {
  const matcher = createStopStringMatcher(stopStrings);
  const pieces: string[] = [];
  for (const delta of deltas) {
    const { text, stopped } = pushStopStringText(matcher, delta);
    pieces.push(text);
    if (stopped) return { pieces, emitted: pieces.join(""), stopped };
  }
  pieces.push(finishStopStringMatcher(matcher));
  return { pieces, emitted: pieces.join(""), stopped: false };
}

/**
 * The specification, on the whole text at once: the stream stops at the first position where a
 * stop string ends; of those ending there, the longest is cut.
 */
function referenceStop(text: string, stopStrings: string[]): { emitted: string; stopped: boolean } {
  for (let end = 1; end <= text.length; end++) {
    let longest = 0;
    for (const stop of stopStrings)
      if (stop.length <= end && text.startsWith(stop, end - stop.length))
        longest = Math.max(longest, stop.length);
    if (longest > 0) return { emitted: text.slice(0, end - longest), stopped: true };
  }
  return { emitted: text, stopped: false };
}

/** How much of the end of `text` could still grow into a stop string. */
function undecidedSuffixLength(text: string, stopStrings: string[]): number {
  for (let length = text.length; length > 0; length--)
    if (stopStrings.some((stop) => stop.length > length && stop.startsWith(text.slice(text.length - length))))
      return length;
  return 0;
}

function splitAt(text: string, points: number[]): string[] {
  const cuts = [...new Set(points.map((point) => point % (text.length + 1)))].sort((a, b) => a - b);
  const deltas: string[] = [];
  let start = 0;
  for (const cut of [...cuts, text.length]) {
    deltas.push(text.slice(start, cut));
    start = cut;
  }
  return deltas;
}

// A small alphabet makes stop strings, partial matches and self-overlaps (aab in aaab) common;
// the emoji is two UTF-16 units, so splits can fall inside it as well.
const char = fc.constantFrom("a", "b", "c", " ", "😀");
const text = fc.array(char, { maxLength: 40 }).map((chars) => chars.join(""));
const stopString = fc.array(char, { minLength: 1, maxLength: 6 }).map((chars) => chars.join(""));
const stopStrings = fc.array(stopString, { minLength: 1, maxLength: 4 });
const splitPoints = fc.array(fc.nat(), { maxLength: 20 });

describe("StopStringMatcher", () => {
  it("emits exactly the text before the first stop, however the text is split", () => {
    fc.assert(
      fc.property(text, stopStrings, splitPoints, (fullText, stops, points) => {
        expect(stream(stops, splitAt(fullText, points))).toMatchObject(referenceStop(fullText, stops));
      }),
      { numRuns: 3000 },
    );
  });

  it("holds back only what could still become a stop string, and emits the rest at once", () => {
    fc.assert(
      fc.property(text, stopStrings, splitPoints, (fullText, stops, points) => {
        const matcher = createStopStringMatcher(stops);
        let received = "";
        let emitted = "";
        for (const delta of splitAt(fullText, points)) {
          received += delta;
          const output = pushStopStringText(matcher, delta);
          emitted += output.text;
          if (output.stopped) return;
          expect(emitted).toBe(received.slice(0, received.length - undecidedSuffixLength(received, stops)));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("catches a stop string split across deltas and emits none of it", () => {
    expect(stream(["</s>"], ["Hello <", "/", "s", "> more"])).toEqual({
      pieces: ["Hello ", "", "", ""],
      emitted: "Hello ",
      stopped: true,
    });
  });

  it("releases held text as soon as it cannot be a stop string", () => {
    expect(stream(["Help!"], ["Hel", "lo", " there"])).toEqual({
      pieces: ["", "Hello", " there", ""],
      emitted: "Hello there",
      stopped: false,
    });
  });

  it("stops on a stop string at the very start, emitting nothing", () => {
    expect(stream(["###", "\n"], ["###", "after"])).toEqual({ pieces: [""], emitted: "", stopped: true });
    expect(stream(["\n"], ["\nabc"])).toEqual({ pieces: [""], emitted: "", stopped: true });
  });

  it("cuts at the stop string completed first among overlapping ones", () => {
    // "ab" completes before "bc".
    expect(stream(["bc", "ab"], ["abc"]).emitted).toBe("");
    // "bcd" and "cd" complete together: the longer, earlier-starting one is cut.
    expect(stream(["cd", "bcd"], ["ab", "cd"]).emitted).toBe("a");
    // "bc" completes inside "abcde", which would only have completed later.
    expect(stream(["abcde", "bc"], ["abcde"]).emitted).toBe("a");
  });

  it("finds a stop string after a false start that overlaps it", () => {
    expect(stream(["aab"], ["xaa", "aab", "c"]).emitted).toBe("xaa");
  });

  it("without a stop, everything comes out, the last of it from finish()", () => {
    const result = stream(["STOP"], ["It is ", "a ST", "OR", "y of S", "T"]);
    expect(result).toEqual({
      pieces: ["It is ", "a ", "STOR", "y of ", "", "ST"],
      emitted: "It is a STORy of ST",
      stopped: false,
    });
  });

  it("emits nothing more after a stop", () => {
    const matcher = createStopStringMatcher(["x"]);
    expect(pushStopStringText(matcher, "ax")).toEqual({ text: "a", stopped: true });
    expect(pushStopStringText(matcher, "more")).toEqual({ text: "", stopped: true });
    expect(finishStopStringMatcher(matcher)).toBe("");
  });

  it("with no stop strings passes text straight through", () => {
    expect(stream([], ["a", "b"]).pieces).toEqual(["a", "b", ""]);
  });

  it("can be saved and restored mid-stream", () => {
    const matcher = createStopStringMatcher(["<|end|>"]);
    expect(pushStopStringText(matcher, "ok <|en").text).toBe("ok ");
    const saved = structuredClone(matcher);
    expect(pushStopStringText(matcher, "d|>")).toEqual({ text: "", stopped: true });
    expect(pushStopStringText(saved, "d|>")).toEqual({ text: "", stopped: true });
  });

  it("refuses an empty stop string", () => {
    expect(() => createStopStringMatcher(["ok", ""])).toThrow(RangeError);
  });
});
