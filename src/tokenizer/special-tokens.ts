import { TokenizerError } from "./errors.js";
import type { HfTokenizer } from "./hf-tokenizers.js";

/**
 * Names that tokenizers conventionally give their sequence-start and sequence-end tokens. Only
 * used when tokenizer_config.json does not name them and the post-processor does not add them,
 * because tokenizer.json itself does not say which token ends a sequence.
 */
const CONVENTIONAL_BOS_TOKENS = ["<s>", "<|bos|>", "<bos>", "<|begin_of_text|>", "<|startoftext|>"];
const CONVENTIONAL_EOS_TOKENS = ["</s>", "<|eos|>", "<eos>", "<|end_of_text|>", "<|endoftext|>"];

/** Any text works: the post-processor's special tokens are found around its ids. */
const FRAMING_PROBE_TEXT = "a";

/** The ids encode puts before and after the text's own ids when it adds special tokens. */
export interface SpecialTokenFraming {
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
}

export interface SpecialTokens {
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  /** Ids that decode leaves out when skipping special tokens. */
  readonly specialIds: ReadonlySet<number>;
  /**
   * Set when tokenizer_config.json has add_bos_token or add_eos_token: then these, not the
   * post-processor of tokenizer.json, frame the text (as transformers rebuilds the post-processor
   * from those flags).
   */
  readonly framingOverride: SpecialTokenFraming | undefined;
}

export function resolveSpecialTokens(
  hfTokenizer: HfTokenizer,
  tokenizerConfig: Readonly<Record<string, unknown>>,
): SpecialTokens {
  const specialAddedIds = [...hfTokenizer.get_added_tokens_decoder()]
    .filter(([, token]) => token.special)
    .map(([id]) => id);
  const postProcessorFraming = probePostProcessorFraming(hfTokenizer);

  const bosTokenId = configuredTokenId(hfTokenizer, tokenizerConfig, "bos_token", () =>
    postProcessorFraming.prefix.length > 0
      ? postProcessorFraming.prefix[0]
      : conventionalTokenId(hfTokenizer, specialAddedIds, CONVENTIONAL_BOS_TOKENS),
  );
  const eosTokenId = configuredTokenId(hfTokenizer, tokenizerConfig, "eos_token", () =>
    postProcessorFraming.suffix.length > 0
      ? postProcessorFraming.suffix[postProcessorFraming.suffix.length - 1]
      : conventionalTokenId(hfTokenizer, specialAddedIds, CONVENTIONAL_EOS_TOKENS),
  );

  const addBos = configuredFlag(tokenizerConfig, "add_bos_token");
  const addEos = configuredFlag(tokenizerConfig, "add_eos_token");
  const framingOverride =
    addBos === undefined && addEos === undefined
      ? undefined
      : {
          prefix: framingToken(
            addBos ?? (bosTokenId !== undefined && postProcessorFraming.prefix[0] === bosTokenId),
            bosTokenId,
            "add_bos_token",
          ),
          suffix: framingToken(
            addEos ?? (eosTokenId !== undefined && postProcessorFraming.suffix.at(-1) === eosTokenId),
            eosTokenId,
            "add_eos_token",
          ),
        };

  // transformers treats the tokens tokenizer_config.json names as special even where
  // tokenizer.json does not mark them, so they never show up as text.
  const specialIds = new Set(specialAddedIds);
  for (const id of [bosTokenId, eosTokenId]) if (id !== undefined) specialIds.add(id);

  return { bosTokenId, eosTokenId, specialIds, framingOverride };
}

function probePostProcessorFraming(hfTokenizer: HfTokenizer): SpecialTokenFraming {
  const framed = hfTokenizer.encode(FRAMING_PROBE_TEXT, { add_special_tokens: true }).ids;
  const bare = hfTokenizer.encode(FRAMING_PROBE_TEXT, { add_special_tokens: false }).ids;
  for (let start = 0; start + bare.length <= framed.length; start++) {
    if (bare.every((id, i) => framed[start + i] === id)) {
      return { prefix: framed.slice(0, start), suffix: framed.slice(start + bare.length) };
    }
  }
  return { prefix: [], suffix: [] };
}

/**
 * The id of the token tokenizer_config.json names under `key` (a string or an AddedToken-like
 * {content}); an explicit null means the model has none; absent means `fallback()`.
 */
function configuredTokenId(
  hfTokenizer: HfTokenizer,
  tokenizerConfig: Readonly<Record<string, unknown>>,
  key: string,
  fallback: () => number | undefined,
): number | undefined {
  if (!(key in tokenizerConfig)) return fallback();
  const value = tokenizerConfig[key];
  if (value === null) return undefined;
  const content =
    typeof value === "string"
      ? value
      : typeof value === "object" && typeof (value as { content?: unknown }).content === "string"
        ? (value as { content: string }).content
        : undefined;
  if (content === undefined) {
    throw new TokenizerError(
      `tokenizer_config.json: "${key}" must be a string or an object with a "content" string`,
    );
  }
  const id = hfTokenizer.token_to_id(content);
  if (id === undefined) {
    throw new TokenizerError(
      `tokenizer_config.json names ${key} "${content}", which tokenizer.json does not have`,
    );
  }
  return id;
}

function configuredFlag(
  tokenizerConfig: Readonly<Record<string, unknown>>,
  key: string,
): boolean | undefined {
  const value = tokenizerConfig[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean")
    throw new TokenizerError(`tokenizer_config.json: "${key}" must be true or false`);
  return value;
}

function framingToken(add: boolean, id: number | undefined, flag: string): number[] {
  if (!add) return [];
  if (id === undefined) {
    throw new TokenizerError(
      `tokenizer_config.json sets ${flag}, but names no such token and tokenizer.json has none`,
    );
  }
  return [id];
}

function conventionalTokenId(
  hfTokenizer: HfTokenizer,
  specialAddedIds: readonly number[],
  names: readonly string[],
): number | undefined {
  for (const name of names) {
    const id = hfTokenizer.token_to_id(name);
    if (id !== undefined && specialAddedIds.includes(id)) return id;
  }
  return undefined;
}
