/** The few statistics the load, soak and fault scenarios report. */

/** The q-quantile (0..1) by the nearest-rank method; NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) =>
    sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1],
    count: sorted.length,
  };
}

/** Least-squares slope of y against x (units of y per unit of x); NaN for fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (const { x, y } of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const { x, y } of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/**
 * The lowest value in each window of `windowX`: for a garbage-collected heap, the low points are
 * what is still alive after a collection, so their trend is the leak and the sawtooth is not.
 */
export function windowMinima(
  points: readonly { x: number; y: number }[],
  windowX: number,
): { x: number; y: number }[] {
  const minima = new Map<number, { x: number; y: number }>();
  for (const point of points) {
    const window = Math.floor(point.x / windowX);
    const low = minima.get(window);
    if (!low || point.y < low.y) minima.set(window, point);
  }
  return [...minima.values()].sort((a, b) => a.x - b.x);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
