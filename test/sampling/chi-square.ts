/**
 * Pearson's chi-square goodness-of-fit test, for checking that sampled frequencies follow a
 * distribution. Bins expected to see fewer than 5 draws are pooled into one, the usual condition
 * for the chi-square approximation to hold.
 */
export interface ChiSquareResult {
  statistic: number;
  degreesOfFreedom: number;
  /** Probability of a statistic at least this large if the draws do follow `probabilities`. */
  pValue: number;
}

const MIN_EXPECTED_PER_BIN = 5;

/** `counts[i]` draws of outcome i out of their sum; outcomes with probability 0 must be checked separately. */
export function chiSquareGoodnessOfFit(
  counts: ArrayLike<number>,
  probabilities: ArrayLike<number>,
): ChiSquareResult {
  let draws = 0;
  for (let i = 0; i < counts.length; i++) draws += counts[i];

  const observed: number[] = [];
  const expected: number[] = [];
  let pooledObserved = 0;
  let pooledExpected = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const expectedCount = probabilities[i] * draws;
    if (expectedCount === 0) continue;
    if (expectedCount < MIN_EXPECTED_PER_BIN) {
      pooledObserved += counts[i];
      pooledExpected += expectedCount;
    } else {
      observed.push(counts[i]);
      expected.push(expectedCount);
    }
  }
  if (pooledExpected > 0) {
    observed.push(pooledObserved);
    expected.push(pooledExpected);
  }

  let statistic = 0;
  for (let i = 0; i < observed.length; i++) statistic += (observed[i] - expected[i]) ** 2 / expected[i];
  const degreesOfFreedom = observed.length - 1;
  return { statistic, degreesOfFreedom, pValue: chiSquareSurvival(statistic, degreesOfFreedom) };
}

/** P(X ≥ x) for X ~ chi-square with k degrees of freedom: the regularised upper gamma Q(k/2, x/2). */
export function chiSquareSurvival(x: number, degreesOfFreedom: number): number {
  return regularizedUpperGamma(degreesOfFreedom / 2, x / 2);
}

// Numerical Recipes §6.2: the series converges fast below a + 1, the continued fraction above.
function regularizedUpperGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const logPrefactor = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-16; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * Math.exp(logPrefactor);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let fraction = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    fraction *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(logPrefactor) * fraction;
}

// Lanczos approximation (Numerical Recipes' gammln), about 1e-10 relative.
function logGamma(z: number): number {
  const coefficients = [
    76.18009172947146, -86.50532032941678, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2,
    -0.5395239384953e-5,
  ];
  let series = 1.000000000190015;
  for (let j = 0; j < coefficients.length; j++) series += coefficients[j] / (z + 1 + j);
  const t = z + 5.5;
  return (z + 0.5) * Math.log(t) - t + Math.log((2.5066282746310007 * series) / z);
}
