import { ModelConfigError } from "./errors.js";

/** The hgrn_bit config fields the forward pass depends on (MODEL.md, "config.json fields"). */
export interface ModelConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly intermediateSize: number;
  readonly rmsNormEps: number;
  readonly useLowerBound: boolean;
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId: number | undefined;
  /** One or more ids that end generation (HF allows a list). */
  readonly eosTokenIds: readonly number[];
}

/** The BitLinear's own RMSNorm uses 1e-6 whatever the config says (MODEL.md, BitLinear step 1). */
export const BITLINEAR_NORM_EPS = 1e-6;

/**
 * FLA's rule for `intermediate_size: null`: truncate d * hidden_ratio * 2/3, then round up to a
 * multiple of 256 (so d = 1024 gives 2816, as in MMfreeLM-370M).
 */
export function defaultIntermediateSize(hiddenSize: number, hiddenRatio: number): number {
  const raw = Math.trunc((hiddenSize * hiddenRatio * 2) / 3);
  return 256 * Math.ceil(raw / 256);
}

type Json = Record<string, unknown>;

function positiveInteger(json: Json, field: string): number {
  const value = json[field];
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new ModelConfigError(field, `must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function optionalTokenIds(json: Json, field: string): number[] {
  const value = json[field];
  if (value === undefined || value === null) return [];
  const ids = Array.isArray(value) ? value : [value];
  for (const id of ids) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new ModelConfigError(
        field,
        `must be a token id or a list of token ids, got ${JSON.stringify(value)}`,
      );
    }
  }
  return ids as number[];
}

/** Refuses, naming the field, any setting the engine does not implement. */
function requireValue(json: Json, field: string, allowed: readonly unknown[], why: string): void {
  const value = json[field];
  if (value === undefined || value === null) return;
  if (!allowed.includes(value)) {
    throw new ModelConfigError(field, `${JSON.stringify(value)} is not supported (${why})`);
  }
}

export function parseModelConfig(json: unknown): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelConfigError("(root)", "must be a JSON object");
  }
  const c = json as Json;
  if (c.model_type !== "hgrn_bit") {
    throw new ModelConfigError(
      "model_type",
      `must be "hgrn_bit" (a MatMul-free LM), got ${JSON.stringify(c.model_type)}`,
    );
  }
  requireValue(c, "use_short_conv", [false], "Trine implements the MLGRU without the short convolution");
  requireValue(
    c,
    "num_heads",
    [1],
    "every published MatMul-free LM uses one head; g_norm per head is not implemented",
  );
  requireValue(c, "expand_ratio", [1], "the token mixer must keep the hidden size");
  requireValue(c, "hidden_act", ["swish", "silu"], "the GLU uses SiLU");
  requireValue(c, "attn_mode", ["fused_recurrent", "chunk", "fused_chunk"], "all are the same recurrence");

  const hiddenSize = positiveInteger(c, "hidden_size");
  const hiddenRatio =
    c.hidden_ratio === undefined || c.hidden_ratio === null ? 4 : positiveInteger(c, "hidden_ratio");
  const intermediateSize =
    c.intermediate_size === undefined || c.intermediate_size === null
      ? defaultIntermediateSize(hiddenSize, hiddenRatio)
      : positiveInteger(c, "intermediate_size");
  const eps = c.rms_norm_eps ?? 1e-6;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new ModelConfigError("rms_norm_eps", `must be a positive number, got ${JSON.stringify(eps)}`);
  }
  const bos = optionalTokenIds(c, "bos_token_id");
  return {
    vocabSize: positiveInteger(c, "vocab_size"),
    hiddenSize,
    numLayers: positiveInteger(c, "num_hidden_layers"),
    intermediateSize,
    rmsNormEps: eps,
    useLowerBound: c.use_lower_bound === undefined ? true : c.use_lower_bound === true,
    tieWordEmbeddings: c.tie_word_embeddings === true,
    bosTokenId: bos[0],
    eosTokenIds: optionalTokenIds(c, "eos_token_id"),
  };
}
