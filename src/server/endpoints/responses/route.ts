import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type OutputConstraint, sequenceSpec } from "../../../generation/sequence-spec.js";
import type { GenerationRequest } from "../../../scheduler/request-run.js";
import type { ServedModel } from "../../../scheduler/scheduler.js";
import type { ResponseStore } from "../../../store/response-store.js";
import type { ConversationMessage, StoredResponse } from "../../../store/stored-response.js";
import type { TokenizedChat } from "../../chat-template.js";
import type { ServerConfig } from "../../config.js";
import {
  contextLengthExceeded,
  errorBody,
  internalError,
  invalidRequest,
  notFound,
  toApiError,
  unsupportedParameter,
} from "../../errors.js";
import { SseStream } from "../../sse.js";
import { traceOperation } from "../../tracing.js";
import { ownerOf } from "../shared/owner.js";
import { checkPromptText, requestedModel } from "../shared/prompt-checks.js";
import { startRun, unixSeconds } from "../shared/run-response.js";
import { samplingOf, stopStrings } from "../shared/sampling-fields.js";
import type { SamplingFields } from "../shared/schema.js";
import { responseSerializer } from "../shared/serializer.js";
import { checkCompiles, checked, loadConstraintChecks } from "../shared/structured-output.js";
import { storedStart } from "./conversation.js";
import { itemId, parseInput, responseId } from "./input.js";
import {
  createResponseRoute,
  deleteResponseRoute,
  getResponseRoute,
  type InputItemList,
  inputItemsRoute,
  type OutputMessage,
  type ResponseCreateRequest,
  type ResponseObject,
  type StreamEvent,
  type StreamEventName,
  StreamEvents,
  type TextFormat,
} from "./schema.js";
import { TrimmedText } from "./trimmed-text.js";

/** OpenAI's bound on metadata pairs. */
const MAX_METADATA_PAIRS = 16;
const DEFAULT_LIST_LIMIT = 20;
const MAX_LIST_LIMIT = 100;

function refuseUnsupportedFields(body: ResponseCreateRequest): void {
  const isEmptyList = (value: unknown) => Array.isArray(value) && value.length === 0;
  if (body.tools != null && !isEmptyList(body.tools))
    throw unsupportedParameter("tools", "tool calling is not implemented");
  if (body.tool_choice != null && body.tool_choice !== "none" && body.tool_choice !== "auto")
    throw unsupportedParameter("tool_choice", "there are no tools; only 'none' or 'auto'");
  if (body.reasoning != null) throw unsupportedParameter("reasoning", "this model does not reason");
  if (body.include != null && !isEmptyList(body.include))
    throw unsupportedParameter("include", "nothing can be included");
  if (body.background != null && body.background !== false)
    throw unsupportedParameter("background", "responses run in the foreground");
  if (body.top_logprobs != null && body.top_logprobs !== 0)
    throw unsupportedParameter("top_logprobs", "the Responses API does not return logprobs here");
  if (body.truncation != null && body.truncation !== "auto" && body.truncation !== "disabled")
    throw invalidRequest("truncation must be 'auto' or 'disabled'.", "truncation", "invalid_value");
  if (body.metadata != null && Object.keys(body.metadata).length > MAX_METADATA_PAIRS)
    throw invalidRequest(
      `metadata may have at most ${MAX_METADATA_PAIRS} pairs.`,
      "metadata",
      "invalid_value",
    );
}

/**
 * `text.format` as the spec's output constraint (structured outputs): `json_object`, or
 * `json_schema` with the schema beside its name (the Responses API's flat shape, not chat's
 * nested `json_schema`); checked by xgrammar here, so a schema it cannot use is a 400.
 */
function formatConstraint(format: TextFormat | undefined): {
  constraint: OutputConstraint | null;
  param: string;
} {
  const type = format?.type ?? "text";
  if (type === "text") return { constraint: null, param: "text.format" };
  if (type === "json_object")
    return { constraint: checked({ type: "json_object" }, "text.format"), param: "text.format" };
  if (type !== "json_schema")
    throw invalidRequest(
      "text.format.type must be 'text', 'json_object' or 'json_schema'.",
      "text.format.type",
      "invalid_value",
    );
  if (typeof format?.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(format.name))
    throw invalidRequest(
      "text.format of type json_schema needs a name: letters, digits, _ and -, at most 64.",
      "text.format.name",
      format?.name === undefined ? "missing_required_parameter" : "invalid_value",
    );
  const schema = format.schema ?? {};
  return {
    constraint: checked({ type: "json_schema", schema }, "text.format.schema"),
    param: "text.format.schema",
  };
}

/** The format as the response echoes it. */
function echoedFormat(format: TextFormat | undefined): ResponseObject["text"]["format"] {
  if (format === undefined || format.type === "text") return { type: "text" };
  if (format.type === "json_object") return { type: "json_object" };
  return {
    type: "json_schema",
    name: format.name as string,
    schema: format.schema ?? {},
    strict: format.strict ?? null,
    ...(format.description === undefined ? {} : { description: format.description }),
  };
}

const responseNotFound = (id: string, param: string | null = null) =>
  notFound(`Response with id '${id}' not found.`, param, param ? "previous_response_not_found" : "not_found");

/** The system turn `instructions` make, before the conversation; never stored in it. */
const framed = (instructions: string | null, messages: readonly ConversationMessage[]) =>
  instructions === null ? [...messages] : [{ role: "system" as const, content: instructions }, ...messages];

/** POST /v1/responses, GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items. */
export async function responsesEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler, config } = app.trine;
  const { stateStore } = app.trine;
  const { metrics } = stateStore;
  /**
   * A store operation under a span of the request's trace (none without tracing): its backend
   * kind only, never the location (a Redis URL may carry a password) nor what is stored.
   */
  const inStore = <T>(
    request: FastifyRequest,
    operation: "read" | "write" | "delete",
    work: (store: ResponseStore) => Promise<T>,
  ) =>
    traceOperation(
      request,
      `trine.store.${operation}`,
      { "trine.store.backend": stateStore.kind },
      async () => work(await stateStore.responses()),
    );
  const serializers = Object.fromEntries(
    Object.entries(StreamEvents).map(([name, schema]) => [
      name,
      responseSerializer(schema, app.trine.checkResponses),
    ]),
  ) as Record<StreamEventName, (value: unknown) => string>;

  app.post("/v1/responses", { schema: createResponseRoute }, async (request, reply) => {
    const { body } = request;
    const model = requestedModel(scheduler, body.model);
    await loadConstraintChecks(body);
    refuseUnsupportedFields(body);
    const owner = ownerOf(request, config);
    const turn = parseInput(body.input);
    const store = body.store !== false;
    const instructions = body.instructions ?? null;

    const previousId = body.previous_response_id ?? null;
    const previous =
      previousId === null
        ? undefined
        : await inStore(request, "read", (stored) => stored.load(previousId, owner));
    if (previousId !== null && !previous) throw responseNotFound(previousId, "previous_response_id");
    if (previous && previous.record.model !== model.name) {
      throw invalidRequest(
        `Response '${previousId}' was made by model '${previous.record.model}', not '${model.name}'.`,
        "previous_response_id",
        "model_mismatch",
      );
    }
    // A store that is down fails the request now, not after it has generated.
    if (store) await (await stateStore.backend()).ping();

    const { chat, context } = await conversationPrompt(
      previous?.record.conversation ?? [],
      turn.messages,
      instructions,
      body.truncation === "auto",
      model,
      config,
    );
    let startState: GenerationRequest["startState"];
    if (previous) {
      const start = storedStart(previous, chat.ids, await stateStore.stateFingerprint(), instructions);
      if (typeof start === "string") metrics.stateRebuilt(start);
      else {
        metrics.stateUsed();
        startState = start;
      }
    }
    const format = formatConstraint(body.text?.format);
    const spec = sequenceSpec(
      {
        promptIds: chat.ids,
        sampling: samplingOf(body as SamplingFields),
        maxTokens: body.max_output_tokens,
        logprobs: null,
        stop: stopStrings(body.stop),
        extraStopStrings: model.chatTemplate.stopStrings,
        keepFinalState: store,
        constraint: format.constraint,
        prefixHints: chat.systemPrefixTokens === undefined ? [] : [chat.systemPrefixTokens],
      },
      model,
      {
        maxTokens: config.maxOutputTokens,
        maxTokensCap: config.maxOutputTokens,
        names: { maxTokens: "max_output_tokens" },
      },
    );
    request.log.debug({ input: turn.messages, instructions }, "prompt");

    const generation = { sequences: [spec], startState };
    await checkCompiles(model, generation, format.param);
    const run = await startRun(generation, request, reply);
    const id = responseId();
    const messageId = itemId();
    const createdAt = unixSeconds();
    const base = (): ResponseObject => ({
      id,
      object: "response",
      created_at: createdAt,
      completed_at: null,
      status: "in_progress",
      background: false,
      error: null,
      incomplete_details: null,
      instructions,
      max_output_tokens: body.max_output_tokens ?? null,
      model: model.name,
      output: [],
      parallel_tool_calls: body.parallel_tool_calls ?? true,
      previous_response_id: previousId,
      reasoning: { effort: null, summary: null },
      store,
      temperature: spec.sampling.temperature ?? null,
      text: { format: echoedFormat(body.text?.format) },
      tool_choice: typeof body.tool_choice === "string" ? body.tool_choice : "auto",
      tools: [],
      top_p: spec.sampling.top_p ?? null,
      truncation: body.truncation ?? "disabled",
      usage: null,
      metadata: body.metadata ?? {},
    });

    /** Runs the generation; `delta` sees the output text as it becomes final. */
    const generate = async (delta: (text: string) => Promise<void>) => {
      const text = new TrimmedText();
      const generated: number[] = [];
      let finalState: Float32Array | undefined;
      let finishReason: "stop" | "length" = "length";
      for await (const event of run) {
        if (event.token !== undefined) generated.push(event.token);
        const shown = text.push(event.text);
        if (shown) await delta(shown);
        if (event.finishReason) finishReason = event.finishReason;
        if (event.finalState) finalState = event.finalState.values;
      }
      const outputText = text.finish();
      const incomplete = finishReason === "length";
      const message: OutputMessage = {
        id: messageId,
        type: "message",
        status: incomplete ? "incomplete" : "completed",
        role: "assistant",
        content: [{ type: "output_text", text: outputText, annotations: [], logprobs: [] }],
      };
      const response: ResponseObject = {
        ...base(),
        completed_at: unixSeconds(),
        status: incomplete ? "incomplete" : "completed",
        incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
        output: [message],
        usage: {
          input_tokens: run.promptTokens,
          input_tokens_details: { cached_tokens: run.cachedTokens },
          output_tokens: run.completionTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: run.promptTokens + run.completionTokens,
        },
      };
      if (store) {
        const conversation: ConversationMessage[] = [...context, { role: "assistant", content: outputText }];
        const state = await stateToStore(
          model,
          framed(instructions, conversation),
          // The final state has consumed the prompt and every generated token but the last.
          finalState && generated.length > 0
            ? { ids: [...chat.ids, ...generated.slice(0, -1)], values: finalState }
            : undefined,
          chat.ids,
        );
        const record: StoredResponse = {
          id,
          owner,
          model: model.name,
          response,
          inputItems: turn.items,
          conversation,
          state: state ? { fingerprint: await stateStore.stateFingerprint(), ...state } : null,
        };
        await inStore(request, "write", (stored) => stored.save(record));
      }
      return { response, message };
    };

    if (!body.stream) return (await generate(async () => {})).response;
    await streamResponse(request, reply, base(), messageId, generate);
  });

  /**
   * The state worth storing with a response: the one after its reply when the reply's tokens
   * are what the next turn's prompt will hold, else the one after its prompt (from the prefix
   * cache). A reply cut off mid-word, or ending in whitespace that the template's separator
   * absorbs, re-tokenizes differently from how it was generated; the prompt's state still covers
   * everything before it, so a continuation prefills only the reply and the new turn. The test is
   * the next turn's prompt with a placeholder user message, tokenized as it will be.
   */
  async function stateToStore(
    model: ServedModel,
    messages: ConversationMessage[],
    final: { ids: number[]; values: Float32Array } | undefined,
    promptIds: readonly number[],
  ): Promise<{ tokens: Uint32Array; values: Float32Array } | undefined> {
    const next = await model.chatTemplate.tokenize([...messages, { role: "user", content: "…" }], true, {
      encode: (value, addSpecialTokens) => model.promptTokenizer.encode(value, addSpecialTokens),
    });
    const isPrefix = (ids: readonly number[]) =>
      ids.length < next.ids.length && ids.every((id, i) => next.ids[i] === id);
    if (final && isPrefix(final.ids)) return { tokens: Uint32Array.from(final.ids), values: final.values };
    const prompt = scheduler.prefixState(promptIds);
    if (prompt && isPrefix(promptIds.slice(0, prompt.tokens)))
      return { tokens: Uint32Array.from(promptIds.slice(0, prompt.tokens)), values: prompt.values };
    return undefined;
  }

  /**
   * The named events, in OpenAI's order, each with its sequence_number; the response is taken
   * over from Fastify (hijacked) so each event is written when it is made.
   */
  async function streamResponse(
    request: FastifyRequest,
    reply: FastifyReply,
    initial: ResponseObject,
    messageId: string,
    generate: (
      delta: (text: string) => Promise<void>,
    ) => Promise<{ response: ResponseObject; message: OutputMessage }>,
  ): Promise<void> {
    reply.hijack();
    const sse = new SseStream(
      reply.raw,
      reply.getHeaders(),
      app.trine.sseKeepAliveMs,
      app.trine.sseStallTimeoutMs,
    );
    let sequence = 0;
    const send = <N extends StreamEventName>(name: N, event: Omit<StreamEvent<N>, "type">) =>
      sse.send(serializers[name]({ type: name, sequence_number: sequence++, ...event }), name);
    const at = { item_id: messageId, output_index: 0, content_index: 0 };
    try {
      await send("response.created", { response: initial });
      await send("response.in_progress", { response: initial });
      await send("response.output_item.added", {
        output_index: 0,
        item: { id: messageId, type: "message", status: "in_progress", role: "assistant", content: [] },
      });
      await send("response.content_part.added", {
        ...at,
        part: { type: "output_text", text: "", annotations: [], logprobs: [] },
      });
      const { response, message } = await generate((delta) =>
        send("response.output_text.delta", { ...at, delta, logprobs: [] }),
      );
      const part = message.content[0];
      await send("response.output_text.done", { ...at, text: part.text, logprobs: [] });
      await send("response.content_part.done", { ...at, part });
      await send("response.output_item.done", { output_index: 0, item: message });
      await send(response.status === "incomplete" ? "response.incomplete" : "response.completed", {
        response,
      });
      await sse.done(false);
    } catch (error) {
      const apiError = toApiError(error);
      if (!apiError) request.log.error({ err: error }, "streaming failed");
      const answer = apiError ?? internalError(request.id);
      if (answer.failureReason) scheduler.metrics.requestFailed(answer.failureReason);
      const { error: body } = errorBody(answer);
      await send("error", { code: body.code, message: body.message, param: body.param });
      await send("response.failed", {
        response: {
          ...initial,
          status: "failed",
          error: { code: body.code ?? "server_error", message: body.message },
        },
      });
      await sse.done(false);
    }
  }

  app.get("/v1/responses/:id", { schema: getResponseRoute }, async (request) => {
    const { id } = request.params;
    const found = await inStore(request, "read", (stored) => stored.load(id, ownerOf(request, config)));
    if (!found) throw responseNotFound(id);
    return found.record.response as ResponseObject;
  });

  app.delete("/v1/responses/:id", { schema: deleteResponseRoute }, async (request) => {
    const { id } = request.params;
    if (!(await inStore(request, "delete", (stored) => stored.remove(id, ownerOf(request, config)))))
      throw responseNotFound(id);
    return { id, object: "response" as const, deleted: true as const };
  });

  app.get("/v1/responses/:id/input_items", { schema: inputItemsRoute }, async (request) => {
    const { id } = request.params;
    const { limit: rawLimit, order = "desc", after } = request.query;
    const limit = rawLimit === undefined ? DEFAULT_LIST_LIMIT : Number(rawLimit);
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIST_LIMIT))
      throw invalidRequest(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`, "limit", "invalid_value");
    if (order !== "asc" && order !== "desc")
      throw invalidRequest("order must be 'asc' or 'desc'.", "order", "invalid_value");
    const found = await inStore(request, "read", (stored) => stored.load(id, ownerOf(request, config)));
    if (!found) throw responseNotFound(id);
    const items = [...(found.record.inputItems as InputItemList["data"])];
    if (order === "desc") items.reverse();
    let from = 0;
    if (after !== undefined) {
      from = items.findIndex((item) => item.id === after) + 1;
      if (from === 0)
        throw invalidRequest(`No input item '${after}' in this response.`, "after", "invalid_value");
    }
    const data = items.slice(from, from + limit);
    return {
      object: "list" as const,
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: from + limit < items.length,
    } satisfies InputItemList;
  });
}

/**
 * The prompt: instructions, the stored conversation and the new turn, rendered and tokenized
 * whole. Too long: a 400, or with truncation "auto" the oldest stored messages are left out
 * (the new turn never is) until it fits.
 */
async function conversationPrompt(
  history: readonly ConversationMessage[],
  newMessages: readonly ConversationMessage[],
  instructions: string | null,
  truncate: boolean,
  model: ServedModel,
  config: ServerConfig,
): Promise<{ chat: TokenizedChat; context: ConversationMessage[] }> {
  let dropped = 0;
  for (;;) {
    const context = [...history.slice(dropped), ...newMessages];
    const text = model.chatTemplate.render(framed(instructions, context), true);
    const fits = Buffer.byteLength(text) <= config.maxPromptTokens * model.maxTokenBytes;
    if (fits || !truncate || dropped === history.length) {
      if (!fits) checkPromptText(text, "input", model, config);
      const chat = await model.chatTemplate.tokenize(framed(instructions, context), true, {
        encode: (value, addSpecialTokens) => model.promptTokenizer.encode(value, addSpecialTokens),
      });
      if (chat.ids.length <= config.maxPromptTokens) return { chat, context };
      if (!truncate || dropped === history.length)
        throw contextLengthExceeded("input", chat.ids.length, config.maxPromptTokens);
    }
    dropped++;
  }
}
