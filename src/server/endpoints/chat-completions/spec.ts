import { choicesOf, type OutputConstraint, sequenceSpec } from "../../../generation/sequence-spec.js";
import type { GenerationRequest } from "../../../scheduler/request-run.js";
import type { ServedModel } from "../../../scheduler/scheduler.js";
import type { TokenizedChat } from "../../chat-template.js";
import type { ServerConfig } from "../../config.js";
import { invalidRequest } from "../../errors.js";
import { samplingOf, stopStrings } from "../shared/sampling-fields.js";
import { requestedConstraint } from "../shared/structured-output.js";
import type { ChatCompletionRequest } from "./schema.js";

/** A chat request's n choices over its templated prompt. */
export function chatCompletionSpecs(
  body: ChatCompletionRequest,
  chat: TokenizedChat,
  model: ServedModel,
  config: ServerConfig,
  /** The constraint tool_choice implies (required, a named function, or auto's trigger). */
  toolConstraint: OutputConstraint | null = null,
): GenerationRequest {
  const formatConstraint = requestedConstraint(body);
  if (formatConstraint && toolConstraint)
    throw invalidRequest(
      "A constrained response_format or structured_outputs cannot be combined with tool calls; use tool_choice 'none'.",
      "tool_choice",
      "invalid_value",
    );
  const maxTokensParam = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  const spec = sequenceSpec(
    {
      promptIds: chat.ids,
      sampling: samplingOf(body),
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      logprobs: body.logprobs === true ? (body.top_logprobs ?? 0) : null,
      promptLogprobs: body.prompt_logprobs,
      stop: stopStrings(body.stop),
      extraStopStrings: model.chatTemplate.stopStrings,
      constraint: toolConstraint ?? formatConstraint,
      // The state after the reply goes into the prefix cache (RequestRun), so a client sending the
      // conversation back prefills only its new turn; with n > 1 the client keeps one of n replies.
      keepFinalState: (body.n ?? 1) === 1,
      // The end of the system turn: many conversations share it, so its state is worth caching.
      prefixHints: chat.systemPrefixTokens === undefined ? [] : [chat.systemPrefixTokens],
    },
    model,
    {
      maxTokens: config.maxOutputTokens,
      maxTokensCap: config.maxOutputTokens,
      names: { maxTokens: maxTokensParam, logprobs: "top_logprobs" },
    },
  );
  return { sequences: choicesOf(spec, body.n ?? 1) };
}
