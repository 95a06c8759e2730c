import type { FastifyInstance } from "fastify";
import { templateMessages } from "../chat-template.js";
import { InvalidRequestError, unsupportedParameter } from "../errors.js";
import { checkPrompt, checkPromptText, generationPlan, requestedModel } from "../generation-request.js";
import {
  chatLogprobs,
  collectChoices,
  responseId,
  startGeneration,
  streamRun,
  unixSeconds,
  usageOf,
} from "../generation-response.js";
import type { ChoiceEvent } from "../generation-service.js";
import {
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatCompletionResponse,
  chatCompletionRouteSchema,
} from "../protocol.js";

/**
 * Fields OpenAI defines that would change the answer in ways Trine cannot honour, with the value
 * each may take to mean "nothing asked".
 */
function refuseUnsupportedFields(body: ChatCompletionRequest): void {
  const isEmptyList = (value: unknown) => Array.isArray(value) && value.length === 0;
  if (body.tools != null && !isEmptyList(body.tools))
    throw unsupportedParameter("tools", "tool calling is not implemented");
  if (body.tool_choice != null && body.tool_choice !== "none") {
    throw unsupportedParameter("tool_choice", "tool calling is not implemented; only 'none' is accepted");
  }
  if (body.functions != null && !isEmptyList(body.functions)) {
    throw unsupportedParameter("functions", "function calling is not implemented");
  }
  if (body.function_call != null && body.function_call !== "none") {
    throw unsupportedParameter(
      "function_call",
      "function calling is not implemented; only 'none' is accepted",
    );
  }
  if (body.response_format != null && body.response_format.type !== "text") {
    throw unsupportedParameter(
      "response_format",
      "only {type: 'text'}; structured output is not implemented",
    );
  }
  if (body.modalities != null && !(body.modalities.length === 1 && body.modalities[0] === "text")) {
    throw unsupportedParameter("modalities", "only ['text']");
  }
  for (const field of ["audio", "reasoning_effort", "verbosity", "web_search_options"] as const) {
    if (body[field] != null) throw unsupportedParameter(field, "this model has no such capability");
  }
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw new InvalidRequestError("top_logprobs needs logprobs: true.", "top_logprobs", "invalid_value");
  }
}

/** POST /v1/chat/completions. */
export async function chatCompletionRoutes(app: FastifyInstance): Promise<void> {
  const { service, config, sseKeepAliveMs } = app.trine;

  app.post("/v1/chat/completions", { schema: chatCompletionRouteSchema }, async (request, reply) => {
    const body = request.body as ChatCompletionRequest;
    const model = requestedModel(service, body.model);
    refuseUnsupportedFields(body);
    const messages = templateMessages(body.messages);
    const { ids, systemPrefixTokens } = await model.chatTemplate.tokenize(messages, true, {
      encode: (text, addSpecialTokens) => model.promptTokenizer.encode(text, addSpecialTokens),
      checkText: (text) => checkPromptText(text, "messages", model, config),
    });
    checkPrompt(ids, "messages", config);
    const withLogprobs = body.logprobs === true;
    const plan = generationPlan(body, model, config, {
      prompts: [{ ids, prefixHints: systemPrefixTokens === undefined ? [] : [systemPrefixTokens] }],
      maxTokens:
        body.max_completion_tokens != null
          ? { value: body.max_completion_tokens, param: "max_completion_tokens" }
          : { value: body.max_tokens, param: "max_tokens" },
      logprobs: { count: withLogprobs ? (body.top_logprobs ?? 0) : null, param: "top_logprobs" },
      extraStopStrings: model.chatTemplate.stopStrings,
    });
    request.log.debug({ messages }, "prompt");

    const run = await startGeneration(service, plan, request, reply);
    const id = responseId("chatcmpl");
    const created = unixSeconds();

    if (!body.stream) {
      const choices = await collectChoices(run);
      return {
        id,
        object: "chat.completion",
        created,
        model: model.name,
        choices: choices.map((choice, index) => ({
          index,
          message: { role: "assistant", content: choice.text, refusal: null },
          logprobs: withLogprobs ? chatLogprobs(model.tokenizer, choice.logprobs) : null,
          finish_reason: choice.finishReason,
        })),
        usage: usageOf(run),
      } satisfies ChatCompletionResponse;
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: ChatCompletionChunk["choices"]): ChatCompletionChunk => ({
      id,
      object: "chat.completion.chunk",
      created,
      model: model.name,
      choices,
      ...(includeUsage ? { usage: null } : {}),
    });
    await streamRun(
      run,
      request,
      reply,
      {
        opening: () =>
          Array.from({ length: plan.n }, (_, index) =>
            chunk([
              { index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
            ]),
          ),
        event: ({ index, text, logprobs, finishReason }: ChoiceEvent) => {
          const chunks: ChatCompletionChunk[] = [];
          if (text !== "" || logprobs) {
            chunks.push(
              chunk([
                {
                  index,
                  delta: { content: text },
                  logprobs: logprobs && chatLogprobs(model.tokenizer, [logprobs]),
                  finish_reason: null,
                },
              ]),
            );
          }
          if (finishReason)
            chunks.push(chunk([{ index, delta: {}, logprobs: null, finish_reason: finishReason }]));
          return chunks;
        },
        usage: (usage) => ({ ...chunk([]), usage }),
      },
      includeUsage,
      sseKeepAliveMs,
    );
  });
}
