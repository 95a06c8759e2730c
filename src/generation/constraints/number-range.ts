/**
 * JSON numbers between bounds, as EBNF. xgrammar 0.1.27 gets these wrong (0..120 lets in 129,
 * exclusiveMinimum 3 lets in 1, a decimal bound reads its "." as any character), so bounded
 * numbers are written here instead, exactly: every string the expression matches is a JSON
 * number within the bounds, and every integer within them is matched.
 */

/** Bounds of a JSON Schema number or integer; absent sides are unbounded. */
export interface NumberBounds {
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
}

/** Beyond this a bound is taken as no bound: integers past 2^53 are not exact in JavaScript. */
const LARGEST_BOUND = 1e15;

/**
 * An EBNF expression (alternatives in parentheses) for the JSON integers within `bounds` (with
 * `integer` false, also decimals: an integer part and a fraction, where every such value is
 * within bounds). null when no value fits.
 */
export function boundedNumberEbnf(bounds: NumberBounds, integer: boolean): string | null {
  const { lowest, highest } = integerBounds(bounds);
  const alternatives = integerAlternatives(lowest, highest);
  if (!integer) alternatives.push(...fractionAlternatives(bounds));
  return alternatives.length === 0 ? null : `(${alternatives.map((a) => `(${a})`).join(" | ")})`;
}

/** The least and greatest integers within bounds (±Infinity when unbounded). */
function integerBounds(bounds: NumberBounds): { lowest: number; highest: number } {
  let lowest = Number.NEGATIVE_INFINITY;
  let highest = Number.POSITIVE_INFINITY;
  if (bounds.minimum !== undefined) lowest = Math.max(lowest, Math.ceil(bounds.minimum));
  if (bounds.exclusiveMinimum !== undefined)
    lowest = Math.max(lowest, Math.floor(bounds.exclusiveMinimum) + 1);
  if (bounds.maximum !== undefined) highest = Math.min(highest, Math.floor(bounds.maximum));
  if (bounds.exclusiveMaximum !== undefined)
    highest = Math.min(highest, Math.ceil(bounds.exclusiveMaximum) - 1);
  if (lowest < -LARGEST_BOUND) lowest = Number.NEGATIVE_INFINITY;
  if (highest > LARGEST_BOUND) highest = Number.POSITIVE_INFINITY;
  return { lowest, highest };
}

function integerAlternatives(lowest: number, highest: number): string[] {
  if (lowest > highest) return [];
  const alternatives: string[] = [];
  // Negative integers -m: magnitudes m from max(1, -highest) to -lowest.
  if (lowest < 0) {
    for (const magnitude of magnitudeAlternatives(Math.max(1, -highest), -lowest))
      alternatives.push(`"-" ${magnitude}`);
  }
  if (highest >= 0) alternatives.push(...magnitudeAlternatives(Math.max(0, lowest), highest));
  return alternatives;
}

/**
 * Decimals k.ddd and -k.ddd (k ≥ 0) whose whole interval, [k, k+1) or (-k-1, -k], lies within
 * the bounds, so no digits after the point can carry the value out of them.
 */
function fractionAlternatives(b: NumberBounds): string[] {
  const least = (values: (number | undefined)[]) =>
    Math.max(0, ...values.filter((v): v is number => v !== undefined && !Number.isNaN(v)));
  const most = (values: (number | undefined)[]) => {
    const high = Math.min(...values.filter((v): v is number => v !== undefined && !Number.isNaN(v)));
    return high > LARGEST_BOUND ? Number.POSITIVE_INFINITY : high;
  };
  const opt = (value: number | undefined, f: (value: number) => number) =>
    value === undefined ? undefined : f(value);
  const fraction = `"." [0-9]+`;
  // [k, k+1): k ≥ minimum, k > exclusiveMinimum, k + 1 ≤ maximum and ≤ exclusiveMaximum.
  const positiveLow = least([opt(b.minimum, Math.ceil), opt(b.exclusiveMinimum, (v) => Math.floor(v) + 1)]);
  const positiveHigh = most([
    opt(b.maximum, (v) => Math.floor(v) - 1),
    opt(b.exclusiveMaximum, (v) => Math.floor(v) - 1),
  ]);
  // (-k-1, -k]: -k-1 ≥ minimum and ≥ exclusiveMinimum, -k ≤ maximum, -k < exclusiveMaximum.
  const negativeLow = least([
    opt(b.maximum, (v) => Math.ceil(-v)),
    opt(b.exclusiveMaximum, (v) => Math.floor(-v) + 1),
  ]);
  const negativeHigh = most([
    opt(b.minimum, (v) => Math.floor(-v) - 1),
    opt(b.exclusiveMinimum, (v) => Math.floor(-v) - 1),
  ]);
  return [
    ...magnitudeAlternatives(positiveLow, positiveHigh).map((magnitude) => `${magnitude} ${fraction}`),
    ...magnitudeAlternatives(negativeLow, negativeHigh).map((magnitude) => `"-" ${magnitude} ${fraction}`),
    ...tenthsAlternatives(b),
  ];
}

/** How many tenths past the last whole-unit interval are written out (those cover the rest). */
const TENTHS_SPAN = 100;

/**
 * Decimals m/10 + more digits, whose interval of a tenth lies within the bounds: what lets a
 * range narrower than a unit, such as (0, 0.5], hold decimals at all.
 */
function tenthsAlternatives(b: NumberBounds): string[] {
  // x * 10 rounded at the 9th decimal: 0.3 * 10 is 3.0000000000000004, whose ceiling is 4.
  const tenths = (value: number | undefined) =>
    value === undefined ? undefined : Math.round(value * 1e10) / 1e9;
  const scaled: NumberBounds = {
    minimum: tenths(b.minimum),
    maximum: tenths(b.maximum),
    exclusiveMinimum: tenths(b.exclusiveMinimum),
    exclusiveMaximum: tenths(b.exclusiveMaximum),
  };
  const least = (values: (number | undefined)[]) => Math.max(0, ...values.filter((v) => v !== undefined));
  const most = (low: number, values: (number | undefined)[]) =>
    Math.min(low + TENTHS_SPAN, ...values.filter((v) => v !== undefined));
  const opt = (value: number | undefined, f: (value: number) => number) =>
    value === undefined ? undefined : f(value);
  // [m, m+1) tenths and (-m-1, -m] tenths, as for whole units.
  const positiveLow = least([
    opt(scaled.minimum, Math.ceil),
    opt(scaled.exclusiveMinimum, (v) => Math.floor(v) + 1),
  ]);
  const positiveHigh = most(positiveLow, [
    opt(scaled.maximum, (v) => Math.floor(v) - 1),
    opt(scaled.exclusiveMaximum, (v) => Math.floor(v) - 1),
  ]);
  const negativeLow = least([
    opt(scaled.maximum, (v) => Math.ceil(-v)),
    opt(scaled.exclusiveMaximum, (v) => Math.floor(-v) + 1),
  ]);
  const negativeHigh = most(negativeLow, [
    opt(scaled.minimum, (v) => Math.floor(-v) - 1),
    opt(scaled.exclusiveMinimum, (v) => Math.floor(-v) - 1),
  ]);
  const withPoint = (digits: string) => {
    // Every alternative of a finite range is one token per digit: the point goes before the last.
    const tokens = digits.match(/"[0-9]"|\[[0-9]-[0-9]\]/g) as string[];
    const whole = tokens.length === 1 ? ['"0"'] : tokens.slice(0, -1);
    return `${whole.join(" ")} "." ${tokens[tokens.length - 1]} [0-9]*`;
  };
  return [
    ...magnitudeAlternatives(positiveLow, positiveHigh).map(withPoint),
    ...magnitudeAlternatives(negativeLow, negativeHigh).map((digits) => `"-" ${withPoint(digits)}`),
  ];
}

/** Non-negative integers in [low, high] (high may be Infinity), without leading zeros. */
function magnitudeAlternatives(low: number, high: number): string[] {
  if (low > high) return [];
  const alternatives: string[] = [];
  const lowDigits = String(low).length;
  const highDigits = high === Number.POSITIVE_INFINITY ? lowDigits : String(high).length;
  for (let digits = lowDigits; digits <= highDigits; digits++) {
    const from = digits === lowDigits ? String(low) : `1${"0".repeat(digits - 1)}`;
    const to = high !== Number.POSITIVE_INFINITY && digits === highDigits ? String(high) : "9".repeat(digits);
    alternatives.push(...sameLength(from, to));
  }
  // Every number with more digits than `high`'s... when unbounded, any longer number.
  if (high === Number.POSITIVE_INFINITY) alternatives.push(`[1-9] ${"[0-9] ".repeat(lowDigits)}[0-9]*`);
  return alternatives;
}

/** Digit strings of one length from `from` to `to` (from ≤ to), as sequences of character classes. */
function sameLength(from: string, to: string): string[] {
  if (from.length === 1) return [from === to ? `"${from}"` : `[${from}-${to}]`];
  const rest = from.length - 1;
  if (from[0] === to[0]) return sameLength(from.slice(1), to.slice(1)).map((tail) => `"${from[0]}" ${tail}`);
  const anyTail = "[0-9] ".repeat(rest).trim();
  if (/^0*$/.test(from.slice(1)) && /^9*$/.test(to.slice(1))) return [`[${from[0]}-${to[0]}] ${anyTail}`];
  const out = sameLength(from.slice(1), "9".repeat(rest)).map((tail) => `"${from[0]}" ${tail}`);
  const firstDigit = Number(from[0]);
  const lastDigit = Number(to[0]);
  if (firstDigit + 1 <= lastDigit - 1) out.push(`[${firstDigit + 1}-${lastDigit - 1}] ${anyTail}`);
  out.push(...sameLength("0".repeat(rest), to.slice(1)).map((tail) => `"${to[0]}" ${tail}`));
  return out;
}
