/**
 * Median time per call of a function that walks a rotation of weight copies. A repetition is as
 * many calls as fill `minRepMs`, so short calls are not lost in timer resolution, and the median
 * over repetitions shrugs off the odd interruption on a shared machine.
 */
export interface TimingOptions {
  readonly reps: number;
  readonly minRepMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Calls run(copy) over copies 0..copies-1, wrapping, and returns the median seconds per call. */
export function secondsPerCall(run: (copy: number) => void, copies: number, options: TimingOptions): number {
  let next = 0;
  const call = () => {
    run(next);
    next = next + 1 === copies ? 0 : next + 1;
  };
  // Warm-up doubles as calibration: how many calls fill one repetition.
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < options.minRepMs) {
    call();
    calls++;
  }
  const perRep = Math.max(1, calls);
  const samples: number[] = [];
  for (let rep = 0; rep < options.reps; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < perRep; i++) call();
    samples.push((performance.now() - t0) / 1000 / perRep);
  }
  return median(samples);
}
