import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ChoiceEvent } from "../../../scheduler/choice-events.js";
import { templateMessages } from "../../chat-template.js";
import { invalidRequest, unsupportedParameter } from "../../errors.js";
import { vllmPromptLogprobs } from "../completions/echo-logprobs.js";
import { chatLogprobs } from "../shared/logprobs.js";
import { ownerOf } from "../shared/owner.js";
import { checkPrompt, checkPromptText, checkSequences, requestedModel } from "../shared/prompt-checks.js";
import {
  collectChoices,
  responseId,
  startRun,
  streamRun,
  unixSeconds,
  usageOf,
} from "../shared/run-response.js";
import { responseSerializer } from "../shared/serializer.js";
import { checkCompiles, constraintParam, loadConstraintChecks } from "../shared/structured-output.js";
import { ChatReplyStates } from "./reply-states.js";
import {
  ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatCompletionResponse,
  chatCompletionsRoute,
} from "./schema.js";
import { chatCompletionSpecs } from "./spec.js";
import { parseToolCalls, ToolCallStream, toolPlan } from "./tools.js";

/** Whether the model may answer in text (tool_choice auto, given or implied by tools). */
function isAuto(
  choice: ChatCompletionRequest["tool_choice"],
  tools: ChatCompletionRequest["tools"],
): boolean {
  return choice === "auto" || (choice == null && (tools?.length ?? 0) > 0);
}

/**
 * Fields OpenAI defines that would change the answer in ways Trine cannot honour, with the value
 * each may take to mean "nothing asked".
 */
function refuseUnsupportedFields(body: ChatCompletionRequest): void {
  const isEmptyList = (value: unknown) => Array.isArray(value) && value.length === 0;
  if (body.functions != null && !isEmptyList(body.functions)) {
    throw unsupportedParameter("functions", "function calling is not implemented");
  }
  if (body.function_call != null && body.function_call !== "none") {
    throw unsupportedParameter(
      "function_call",
      "function calling is not implemented; only 'none' is accepted",
    );
  }
  if (body.modalities != null && !(body.modalities.length === 1 && body.modalities[0] === "text")) {
    throw unsupportedParameter("modalities", "only ['text']");
  }
  for (const field of ["audio", "reasoning_effort", "verbosity", "web_search_options"] as const) {
    if (body[field] != null) throw unsupportedParameter(field, "this model has no such capability");
  }
  if (body.echo === true) {
    throw unsupportedParameter(
      "echo",
      "chat completions do not echo; score a prompt with prompt_logprobs, or with /v1/completions' echo and logprobs",
    );
  }
  if (body.prompt_logprobs != null && body.stream === true) {
    throw invalidRequest(
      "prompt_logprobs are not available with stream: true.",
      "prompt_logprobs",
      "invalid_value",
    );
  }
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw invalidRequest("top_logprobs needs logprobs: true.", "top_logprobs", "invalid_value");
  }
}

/** POST /v1/chat/completions. */
export async function chatCompletionsEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler, config, stateStore } = app.trine;
  const serializeChunk = responseSerializer(ChatCompletionChunk, app.trine.checkResponses);

  app.post("/v1/chat/completions", { schema: chatCompletionsRoute }, async (request, reply) => {
    const { body } = request;
    const model = requestedModel(scheduler, body.model);
    await loadConstraintChecks(body);
    refuseUnsupportedFields(body);
    const n = body.n ?? 1;
    checkSequences(n, 1, config);
    const tools = toolPlan(body.tools, body.tool_choice, body.parallel_tool_calls);
    const messages = templateMessages(body.messages);
    // One reply kept (n = 1), so its state is worth storing, and the last reply's worth reading
    // unless the prompt is to be scored (a stored state has no scores).
    const replyStates = n === 1 ? await ChatReplyStates.of(stateStore, ownerOf(request, config)) : undefined;
    const storedState =
      body.prompt_logprobs == null ? replyStates?.before(model, messages, tools.tools) : undefined;
    const chat = await model.chatTemplate.tokenize(messages, true, {
      encode: (text, addSpecialTokens) => model.promptTokenizer.encode(text, addSpecialTokens),
      checkText: (text) => checkPromptText(text, "messages", model, config),
      tools: tools.tools,
    });
    checkPrompt(chat.ids, "messages", config);
    const generation = {
      ...chatCompletionSpecs(body, chat, model, config, tools.constraint),
      startState: await storedState?.(chat.ids),
      onReplyState: replyStates?.saver(chat.text),
    };
    await checkCompiles(model, generation, tools.constraint ? "tools" : constraintParam(body));
    request.log.debug({ messages }, "prompt");

    const run = await startRun(generation, request, reply);
    const id = responseId("chatcmpl");
    const created = unixSeconds();
    const withLogprobs = body.logprobs === true;

    if (!body.stream) {
      const choices = await collectChoices(run);
      await replyStates?.saved();
      return {
        id,
        object: "chat.completion",
        created,
        model: model.name,
        choices: choices.map((choice, index) => {
          const { content, calls } = tools.parsesCalls
            ? parseToolCalls(choice.text)
            : { content: choice.text, calls: [] };
          return {
            index,
            message: {
              role: "assistant" as const,
              content,
              refusal: null,
              ...(calls.length > 0 ? { tool_calls: calls } : {}),
            },
            logprobs: withLogprobs ? chatLogprobs(model.tokenizer, choice.logprobs) : null,
            finish_reason:
              calls.length > 0 && choice.finishReason === "stop" ? "tool_calls" : choice.finishReason,
          };
        }),
        usage: usageOf(run),
        ...(body.prompt_logprobs == null
          ? {}
          : {
              prompt_logprobs: vllmPromptLogprobs(
                model.tokenizer,
                chat.ids,
                choices[0]?.promptLogprobs ?? [],
                body.prompt_logprobs,
              ),
            }),
      } satisfies ChatCompletionResponse;
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const callStreams = Array.from({ length: n }, () => new ToolCallStream());
    const chunk = (choices: ChatCompletionChunk["choices"]): ChatCompletionChunk => ({
      id,
      object: "chat.completion.chunk",
      created,
      model: model.name,
      choices,
      ...(includeUsage ? { usage: null } : {}),
    });
    await streamRun(run, request, reply, {
      opening: () =>
        Array.from({ length: n }, (_, index) =>
          chunk([{ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]),
        ),
      event: ({ index, text: generated, logprobs, finishReason }: ChoiceEvent) => {
        const chunks: ChatCompletionChunk[] = [];
        // With tools, calls leave the content and come out whole as tool_calls deltas.
        const parser = tools.parsesCalls ? callStreams[index] : undefined;
        const parsed = parser?.push(generated) ?? { content: generated, calls: [] };
        let text = parsed.content;
        if (finishReason && parser) text += parser.flush();
        // Between required calls the grammar writes only separators: no content to show.
        if (tools.constraint?.type === "structural_tag" && !isAuto(body.tool_choice, body.tools)) text = "";
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
        // The stream's callCount already includes these: their indexes are the last ones.
        const firstCall = (parser?.callCount ?? 0) - parsed.calls.length;
        parsed.calls.forEach((call, k) => {
          const delta = { tool_calls: [{ index: firstCall + k, ...call }] };
          chunks.push(chunk([{ index, delta, logprobs: null, finish_reason: null }]));
        });
        if (finishReason) {
          const called = (parser?.callCount ?? 0) > 0 && finishReason === "stop";
          chunks.push(
            chunk([
              { index, delta: {}, logprobs: null, finish_reason: called ? "tool_calls" : finishReason },
            ]),
          );
        }
        return chunks;
      },
      usage: includeUsage ? (usage) => ({ ...chunk([]), usage }) : null,
      serialize: serializeChunk,
      finished: async () => replyStates?.saved(),
    });
  });
}
