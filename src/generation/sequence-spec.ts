import {
  MAX_STOP_STRING_LENGTH,
  MAX_STOP_STRINGS,
  MAX_TOP_LOGPROBS,
  type SamplingParams,
  validateSamplingParams,
} from "../engine/sampling/index.js";

/**
 * One sequence to generate, as every layer sees it: built once from a request (an endpoint's
 * spec builder, or `trine generate`), validated there, and then passed unchanged through the
 * scheduler and the worker message to the batch generator. Plain data, safe for structuredClone.
 */
export interface SequenceSpec {
  /** The whole prompt, bos included: context for the detokeniser and the repetition penalty. */
  readonly promptIds: readonly number[];
  /** Validated; the model's generation_config already filled in where the request said nothing. */
  readonly sampling: SamplingParams;
  /** Alternatives to report with each token's logprob; null = no logprobs. */
  readonly logprobs: number | null;
  /**
   * Score the prompt: each prompt token's logprob (from the raw logits of the row before it) with
   * this many alternatives; absent or null = not scored (src/generation/prompt-scoring.ts).
   */
  readonly promptLogprobs?: number | null;
  /** 0 only for a scored prompt with nothing generated (echo with max_tokens 0). */
  readonly maxTokens: number;
  /** Ids that end the sequence (eos, the request's stop_token_ids); their text is not emitted. */
  readonly stopTokenIds: readonly number[];
  /** Strings that end the sequence; the stop string itself is not emitted. */
  readonly stopStrings: readonly string[];
  /** A constraint on the output, compiled into a logits processor in the worker; null = none. */
  readonly constraint: OutputConstraint | null;
  /** Report the recurrent state after the last token (for storing a conversation). */
  readonly keepFinalState: boolean;
  /** Prompt lengths besides the whole prompt where a state is worth caching (a chat's system turn). */
  readonly prefixHints: readonly number[];
}

/** What the output must match: a description, compiled by the worker's constraint compiler. */
export type OutputConstraint =
  | { readonly type: "json_schema"; readonly schema: unknown }
  | { readonly type: "regex"; readonly pattern: string }
  | { readonly type: "choice"; readonly choices: readonly string[] }
  | { readonly type: "grammar"; readonly ebnf: string }
  /** Any JSON object (response_format json_object). */
  | { readonly type: "json_object" }
  /** An xgrammar structural tag: free text until a trigger, then a constrained part (tool calls). */
  | { readonly type: "structural_tag"; readonly structuralTag: unknown };

/** A value a request may not ask for, with the field as the caller spells it. */
export class SequenceSpecError extends Error {
  override readonly name = "SequenceSpecError";
  constructor(
    /** The field as the caller spells it ("max_completion_tokens", "top_logprobs"). */
    readonly param: string,
    /** What is wrong, without the field's name ("must be from 1 to 512"). */
    readonly problem: string,
    /** The whole sentence a client is shown. */
    message = `Invalid value for '${param}': ${problem}.`,
  ) {
    super(message);
  }
}

/** What the builder needs of the model. */
export interface SpecModel {
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  /** Sampling defaults from generation_config.json. */
  readonly defaults: SamplingParams;
}

/** What a request asks for; null and undefined mean "the default" throughout. */
export interface RequestedSequence {
  readonly promptIds: readonly number[];
  readonly sampling: SamplingParams;
  readonly maxTokens: number | null | undefined;
  readonly logprobs: number | null | undefined;
  readonly promptLogprobs?: number | null;
  readonly stop: readonly string[];
  readonly stopTokenIds?: readonly number[];
  /** Generate past the model's end-of-text tokens. */
  readonly ignoreEos?: boolean;
  /** Stop strings the caller adds (the chat template's), not limited like the request's own. */
  readonly extraStopStrings?: readonly string[];
  readonly constraint?: OutputConstraint | null;
  readonly keepFinalState?: boolean;
  readonly prefixHints?: readonly number[];
}

export interface SpecRules {
  /** The default of maxTokens. */
  readonly maxTokens: number;
  /** The server's cap on maxTokens (its default too); none for the CLI. */
  readonly maxTokensCap?: number;
  /** How the caller spells the fields it names differently. */
  readonly names?: {
    readonly maxTokens?: string;
    readonly logprobs?: string;
    readonly promptLogprobs?: string;
  };
  /** maxTokens may be 0: the prompt is echoed or scored, nothing generated. */
  readonly allowNoOutput?: boolean;
}

/**
 * The validated spec of one sequence. Throws SequenceSpecError for the first value out of range,
 * in the order max tokens, sampling, logprobs, stop token ids, stop strings.
 */
export function sequenceSpec(request: RequestedSequence, model: SpecModel, rules: SpecRules): SequenceSpec {
  const maxTokensName = rules.names?.maxTokens ?? "max_tokens";
  const maxTokens = request.maxTokens ?? rules.maxTokens;
  const cap = rules.maxTokensCap;
  const least = rules.allowNoOutput ? 0 : 1;
  if (!(Number.isSafeInteger(maxTokens) && maxTokens >= least && maxTokens <= (cap ?? maxTokens))) {
    const problem =
      cap === undefined
        ? least === 0
          ? "must be a non-negative integer"
          : "must be a positive integer"
        : `must be from ${least} to ${cap}`;
    const message = cap === undefined ? undefined : `${maxTokensName} ${problem} (this server's limit).`;
    throw new SequenceSpecError(maxTokensName, problem, message);
  }

  // null and absent both mean "the default": the model's generation_config, then the engine's.
  const sampling: SamplingParams = { ...model.defaults };
  for (const [key, value] of Object.entries(request.sampling))
    if (value != null) (sampling as Record<string, unknown>)[key] = value;
  const problem = validateSamplingParams(sampling, model.vocabSize);
  if (problem) throw new SequenceSpecError(problem.param, problem.message);

  const logprobs = request.logprobs ?? null;
  if (logprobs !== null && !(Number.isInteger(logprobs) && logprobs >= 0 && logprobs <= MAX_TOP_LOGPROBS))
    throw new SequenceSpecError(
      rules.names?.logprobs ?? "logprobs",
      `must be an integer between 0 and ${MAX_TOP_LOGPROBS}`,
    );

  const promptLogprobs = request.promptLogprobs ?? null;
  if (
    promptLogprobs !== null &&
    !(Number.isInteger(promptLogprobs) && promptLogprobs >= 0 && promptLogprobs <= MAX_TOP_LOGPROBS)
  )
    throw new SequenceSpecError(
      rules.names?.promptLogprobs ?? "prompt_logprobs",
      `must be an integer between 0 and ${MAX_TOP_LOGPROBS}`,
    );

  const stopTokenIds = request.stopTokenIds ?? [];
  for (const id of stopTokenIds)
    if (!(Number.isInteger(id) && id >= 0 && id < model.vocabSize))
      throw new SequenceSpecError(
        "stop_token_ids",
        `${id} is not a token id between 0 and ${model.vocabSize - 1}`,
      );

  const stop = request.stop;
  if (stop.length > MAX_STOP_STRINGS)
    throw new SequenceSpecError("stop", `at most ${MAX_STOP_STRINGS} stop strings`);
  for (const text of stop)
    if (!(typeof text === "string" && text.length > 0 && text.length <= MAX_STOP_STRING_LENGTH))
      throw new SequenceSpecError(
        "stop",
        `each stop string must be 1 to ${MAX_STOP_STRING_LENGTH} characters`,
      );

  return {
    promptIds: request.promptIds,
    sampling,
    logprobs,
    ...(promptLogprobs === null ? {} : { promptLogprobs }),
    maxTokens,
    stopTokenIds: [...(request.ignoreEos ? [] : model.eosTokenIds), ...stopTokenIds],
    stopStrings: [...stop, ...(request.extraStopStrings ?? [])],
    constraint: request.constraint ?? null,
    keepFinalState: request.keepFinalState ?? false,
    prefixHints: request.prefixHints ?? [],
  };
}

/**
 * The n choices of one prompt: choice i samples with seed + i when a seed is given, so each is
 * reproducible on its own and no two are alike. They share the prompt's ids (one array).
 */
export function choicesOf(spec: SequenceSpec, n: number): SequenceSpec[] {
  const seed = spec.sampling.seed;
  return Array.from({ length: n }, (_, i) =>
    seed == null ? spec : { ...spec, sampling: { ...spec.sampling, seed: seed + i } },
  );
}
