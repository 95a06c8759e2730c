import { nativeStreamRead } from "../src/engine/kernels/native.js";
import type { Model } from "../src/engine/model.js";
import { type Elapsed, startTimer } from "./decode-rounds.js";

/**
 * The streaming-read roofline of single-stream decode: a decode step reads every packed ternary
 * matrix once (the float norms and one embedding row are noise beside them), so no kernel can
 * produce tokens faster than the machine reads those bytes. The read is the native addon's
 * streaming loop (`nativeStreamRead`: AVX-512 loads where the CPU has them, four segments in
 * lockstep as the kernels read their rows, split across the same native threads as a kernel call),
 * over the model's own codes, which are far larger than the caches for every published shape.
 */
export interface Roofline {
  /** Packed weight bytes one decode step streams. */
  readonly weight_stream_bytes: number;
  /** Median read bandwidth over the repetitions, GB/s (1e9 bytes). */
  readonly read_gb_per_s: number;
  /** Tokens per second if the packed weights streamed once per token at that bandwidth. */
  readonly roofline_tokens_per_s: number;
}

/** Every BitLinear's codes, as few spans of memory as possible (the packed file keeps them contiguous). */
export function weightSpans(model: Model): Uint8Array[] {
  const codes = [
    ...model.layers.flatMap((l) => [l.iProj, l.fProj, l.gProj, l.oProj, l.gateProj, l.downProj]),
    model.lmHead,
  ]
    .map((linear) => linear.weights.codes)
    .sort((a, b) => (a.buffer === b.buffer ? a.byteOffset - b.byteOffset : 0));
  const spans: Uint8Array[] = [];
  for (const c of codes) {
    const last = spans.at(-1);
    if (last && last.buffer === c.buffer && last.byteOffset + last.byteLength === c.byteOffset) {
      spans[spans.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.byteLength + c.byteLength);
    } else {
      spans.push(c);
    }
  }
  return spans;
}

/** Reads the weights once per repetition and returns the one-pass seconds of each. */
export function timeWeightReads(spans: readonly Uint8Array[], repetitions: number): number[] {
  return timeWeightReadsElapsed(spans, repetitions).map((e) => e.wall);
}

/** The same, in wall-clock and CPU seconds (see decode-rounds.ts startTimer). */
export function timeWeightReadsElapsed(spans: readonly Uint8Array[], repetitions: number): Elapsed[] {
  const elapsed: Elapsed[] = [];
  for (let k = 0; k < repetitions; k++) {
    const stop = startTimer();
    for (const span of spans) nativeStreamRead(span);
    elapsed.push(stop());
  }
  return elapsed;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The roofline from a set of timed reads (see timeWeightReads). */
export function rooflineOf(spans: readonly Uint8Array[], seconds: readonly number[]): Roofline {
  const bytes = spans.reduce((total, span) => total + span.byteLength, 0);
  const s = median(seconds);
  return { weight_stream_bytes: bytes, read_gb_per_s: bytes / s / 1e9, roofline_tokens_per_s: 1 / s };
}

export function measureRoofline(model: Model, repetitions = 9): Roofline {
  const spans = weightSpans(model);
  timeWeightReads(spans, 1);
  return rooflineOf(spans, timeWeightReads(spans, repetitions));
}
