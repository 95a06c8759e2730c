/**
 * top_k, top_p and min_p: each narrows the candidates of a random draw to a most-likely prefix of
 * the vocabulary in rank order (higher logit first, equal logits to the lower id, a strict order
 * so every cut is unique and reproducible).
 *
 * Candidates are token ids in `candidates[0, count)`; each function reorders that prefix in place
 * and returns how many stay. None sorts the vocabulary: top_k is a quickselect and top_p a
 * quickselect that steers by probability mass, both expected O(count), where a sort would be
 * O(V log V) per token.
 */

/** Keeps the `k` highest-ranked candidates (in no particular order). */
export function keepTopK(candidates: Int32Array, count: number, logits: Float32Array, k: number): number {
  if (k >= count) return count;
  // Invariant: candidates[0, lo) are in the top k, candidates[hi, count) are not, lo ≤ k ≤ hi.
  let lo = 0;
  let hi = count;
  while (hi - lo > 1) {
    const pivot = partitionByRank(candidates, lo, hi, logits);
    if (pivot === k || pivot === k - 1) break;
    if (pivot > k) hi = pivot;
    else lo = pivot + 1;
  }
  return k;
}

/**
 * Keeps the smallest rank-order prefix of the candidates whose probability sums to at least
 * `topP` of theirs (the nucleus), so the top token always stays. `weights[token]` is the token's
 * probability relative to the top candidate's (which is 1); top_p is relative to the candidates,
 * i.e. after top_k renormalised. `totalWeight`, when the caller has it, is their sum.
 *
 * The candidates at least HEAVY times as likely as the top one are a rank-order prefix (weight
 * falls with rank), so when they carry the target mass the nucleus lies among them: it is found
 * there, among the few dozen a trained model gives any weight, instead of among the whole
 * vocabulary. Only a flat distribution, where they carry too little, falls back to all.
 */
export function keepTopP(
  candidates: Int32Array,
  count: number,
  logits: Float32Array,
  weights: Float64Array,
  topP: number,
  totalWeight = sumOfWeights(candidates, count, weights),
): number {
  const target = topP * totalWeight;
  let heavyCount = 0;
  let heavyWeight = 0;
  for (let i = 0; i < count; i++) {
    const token = candidates[i];
    const weight = weights[token];
    if (weight >= HEAVY) {
      candidates[i] = candidates[heavyCount];
      candidates[heavyCount++] = token;
      heavyWeight += weight;
    }
  }
  return nucleus(candidates, heavyWeight >= target ? heavyCount : count, logits, weights, target);
}

/** Relative weight from which candidates are searched first for the nucleus. */
const HEAVY = 2 ** -20;

function sumOfWeights(candidates: Int32Array, count: number, weights: Float64Array): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += weights[candidates[i]];
  return total;
}

/**
 * The shortest rank-order prefix of candidates[0, count) whose weight reaches `target`, moved to
 * the front by a quickselect steered by weight: expected O(count), no sort.
 */
function nucleus(
  candidates: Int32Array,
  count: number,
  logits: Float32Array,
  weights: Float64Array,
  target: number,
): number {
  // Invariant: the nucleus is candidates[0, lo) plus the shortest rank-order prefix of
  // candidates[lo, hi) that carries `weightStillNeeded`.
  let weightStillNeeded = target;
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const pivot = partitionByRank(candidates, lo, hi, logits);
    let weightAbovePivot = 0;
    for (let i = lo; i < pivot; i++) weightAbovePivot += weights[candidates[i]];
    if (weightAbovePivot >= weightStillNeeded) {
      hi = pivot;
      continue;
    }
    const weightThroughPivot = weightAbovePivot + weights[candidates[pivot]];
    if (weightThroughPivot >= weightStillNeeded) return pivot + 1;
    weightStillNeeded -= weightThroughPivot;
    lo = pivot + 1;
  }
  // Only reached when rounding (sums taken in a different order) leaves a sliver of the target
  // unmet after every candidate: keep them all.
  return lo;
}

/**
 * Keeps the candidates at least `minP` times as likely as the most likely one. `weights[token]`
 * must be the token's probability relative to the top candidate's (which is 1), so no
 * normalisation is needed and the earlier truncations' renormalisation cannot change the result.
 */
export function keepMinP(candidates: Int32Array, count: number, weights: Float64Array, minP: number): number {
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const token = candidates[i];
    if (weights[token] >= minP) candidates[kept++] = token;
  }
  return kept;
}

function ranksBefore(a: number, b: number, logits: Float32Array): boolean {
  return logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
}

/**
 * Lomuto partition of candidates[lo, hi) around a median-of-three pivot: afterwards the ones
 * ranking before the pivot come first, then the pivot, then the rest. Returns the pivot's index.
 * The median of three keeps already-ordered input (e.g. all logits equal, ranked by id) linear.
 */
function partitionByRank(candidates: Int32Array, lo: number, hi: number, logits: Float32Array): number {
  const last = hi - 1;
  const middle = lo + ((last - lo) >> 1);
  const first = candidates[lo];
  const mid = candidates[middle];
  const end = candidates[last];
  let pivotIndex: number;
  if (ranksBefore(first, mid, logits)) {
    if (ranksBefore(mid, end, logits)) pivotIndex = middle;
    else pivotIndex = ranksBefore(first, end, logits) ? last : lo;
  } else {
    if (ranksBefore(first, end, logits)) pivotIndex = lo;
    else pivotIndex = ranksBefore(mid, end, logits) ? last : middle;
  }

  const pivot = candidates[pivotIndex];
  candidates[pivotIndex] = candidates[last];
  candidates[last] = pivot;
  let store = lo;
  for (let i = lo; i < last; i++) {
    const token = candidates[i];
    if (ranksBefore(token, pivot, logits)) {
      candidates[i] = candidates[store];
      candidates[store++] = token;
    }
  }
  candidates[last] = candidates[store];
  candidates[store] = pivot;
  return store;
}
