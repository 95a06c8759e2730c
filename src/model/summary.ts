import type { BitLinearWeights, Model } from "../engine/model.js";
import { stateBytes } from "../engine/state.js";

/** How many of the four 2-bit codes in each byte are 1 (weight 0). */
const ZERO_CODES_IN_BYTE = Uint8Array.from({ length: 256 }, (_, byte) => {
  let zeros = 0;
  for (let j = 0; j < 4; j++) if (((byte >> (2 * j)) & 3) === 1) zeros++;
  return zeros;
});

function zeroWeights(layer: BitLinearWeights): number {
  const { codes, rows, cols, paddedCols } = layer.weights;
  let zeros = 0;
  for (let k = 0; k < codes.length; k++) zeros += ZERO_CODES_IN_BYTE[codes[k]];
  return zeros - rows * (paddedCols - cols);
}

/** Parameter counts, memory by part and sparsity: what `trine inspect` reports. */
export function modelSummary(model: Model) {
  const parts: Record<string, BitLinearWeights[]> = {
    "token mixer (i,f,g,o)": model.layers.flatMap((l) => [l.iProj, l.fProj, l.gProj, l.oProj]),
    "channel mixer (GLU)": model.layers.flatMap((l) => [l.gateProj, l.downProj]),
    lm_head: [model.lmHead],
  };
  const bytes: Record<string, number> = {};
  const byPart: Record<string, number> = {};
  let ternary = 0;
  let zeros = 0;
  let floatParams = model.lowerBoundLogits.length + model.finalNorm.length;
  for (const [part, linears] of Object.entries(parts)) {
    let count = 0;
    let partZeros = 0;
    bytes[`${part} codes`] = 0;
    for (const l of linears) {
      count += l.weights.rows * l.weights.cols;
      partZeros += zeroWeights(l);
      bytes[`${part} codes`] += l.weights.codes.byteLength;
      floatParams += l.normGain.length;
    }
    ternary += count;
    zeros += partZeros;
    byPart[part] = partZeros / count;
  }
  for (const l of model.layers) floatParams += l.attnNorm.length + l.gNorm.length + l.mlpNorm.length;
  const embedding = model.embedding.values.length;
  bytes[`embedding (${model.embedding.dtype})`] = model.embedding.values.byteLength;
  bytes["norms and bounds (F32)"] = floatParams * 4;
  return {
    config: model.config,
    parameters: { total: ternary + embedding + floatParams, ternary, embedding, float: floatParams },
    bytes,
    total_bytes: Object.values(bytes).reduce((a, b) => a + b, 0),
    zero_share: { overall: zeros / ternary, by_part: byPart },
    state_bytes_per_sequence: stateBytes(model.config),
  };
}
