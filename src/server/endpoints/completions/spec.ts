import { choicesOf, sequenceSpec } from "../../../generation/sequence-spec.js";
import type { GenerationRequest } from "../../../scheduler/request-run.js";
import type { ServedModel } from "../../../scheduler/scheduler.js";
import type { ServerConfig } from "../../config.js";
import { samplingOf, stopStrings } from "../shared/sampling-fields.js";
import { requestedConstraint } from "../shared/structured-output.js";
import { candidatesPerPrompt } from "./best-of.js";
import type { CompletionRequest } from "./schema.js";

/**
 * Alternatives to score each prompt position with: echo with logprobs puts the prompt's scores in
 * `logprobs`, prompt_logprobs in its own list; one scoring serves both (the larger count).
 */
export function promptScoring(body: CompletionRequest): number | null {
  const echoed = body.echo === true && body.logprobs != null ? body.logprobs : null;
  const listed = body.prompt_logprobs ?? null;
  if (echoed === null || listed === null) return echoed ?? listed;
  return Math.max(echoed, listed);
}

/** A completion request's sequences: each prompt's n choices, prompt-major, as OpenAI numbers them. */
export function completionSpecs(
  body: CompletionRequest,
  prompts: readonly (readonly number[])[],
  model: ServedModel,
  config: ServerConfig,
): GenerationRequest {
  const constraint = requestedConstraint(body);
  const sequences = prompts.flatMap((promptIds) =>
    choicesOf(
      sequenceSpec(
        {
          promptIds,
          sampling: samplingOf(body),
          maxTokens: body.max_tokens,
          // best_of ranks its candidates by their tokens' logprobs, so they are computed even unasked.
          logprobs: body.logprobs ?? (candidatesPerPrompt(body) > (body.n ?? 1) ? 0 : null),
          promptLogprobs: promptScoring(body),
          stop: stopStrings(body.stop),
          constraint,
        },
        model,
        {
          maxTokens: config.maxOutputTokens,
          maxTokensCap: config.maxOutputTokens,
          allowNoOutput: body.echo === true,
        },
      ),
      candidatesPerPrompt(body),
    ),
  );
  return { sequences };
}
