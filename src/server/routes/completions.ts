import type { FastifyInstance } from "fastify";
import { unsupportedParameter } from "../errors.js";
import {
  checkPrompt,
  checkPromptText,
  checkSequences,
  generationPlan,
  requestedModel,
} from "../generation-request.js";
import {
  collectChoices,
  completionLogprobs,
  responseId,
  startGeneration,
  streamRun,
  unixSeconds,
  usageOf,
} from "../generation-response.js";
import type { ChoiceEvent, PromptInput } from "../generation-service.js";
import {
  type CompletionChoice,
  type CompletionRequest,
  type CompletionResponse,
  completionRouteSchema,
} from "../protocol.js";

/** POST /v1/completions: each prompt of the array is its own group of n choices, prompt-major. */
export async function completionRoutes(app: FastifyInstance): Promise<void> {
  const { service, config, sseKeepAliveMs } = app.trine;

  app.post("/v1/completions", { schema: completionRouteSchema }, async (request, reply) => {
    const body = request.body as CompletionRequest;
    const model = requestedModel(service, body.model);
    if (body.best_of != null && body.best_of !== 1) {
      throw unsupportedParameter("best_of", "only best_of = 1 is implemented");
    }
    if (body.suffix != null)
      throw unsupportedParameter("suffix", "insertion after a suffix is not implemented");
    const logprobs = body.logprobs ?? null;
    if (body.echo && logprobs !== null) {
      throw unsupportedParameter(
        "echo",
        "echo with logprobs needs prompt logprobs, which Trine does not compute",
      );
    }

    const texts = typeof body.prompt === "string" ? [body.prompt] : body.prompt;
    checkSequences(body.n ?? 1, texts.length, config);
    const prompts: PromptInput[] = [];
    for (const [i, text] of texts.entries()) {
      const param = texts.length === 1 ? "prompt" : `prompt[${i}]`;
      checkPromptText(text, param, model, config);
      const ids = await model.promptTokenizer.encode(text);
      checkPrompt(ids, param, config);
      prompts.push({ ids, prefixHints: [] });
    }
    const plan = generationPlan(body, model, config, {
      prompts,
      maxTokens: { value: body.max_tokens, param: "max_tokens" },
      logprobs: { count: logprobs, param: "logprobs" },
    });
    request.log.debug({ prompt: body.prompt }, "prompt");

    const run = await startGeneration(service, plan, request, reply);
    const id = responseId("cmpl");
    const created = unixSeconds();
    const echoOf = (index: number) => (body.echo ? texts[Math.floor(index / plan.n)] : "");

    if (!body.stream) {
      const choices = await collectChoices(run);
      return {
        id,
        object: "text_completion",
        created,
        model: model.name,
        choices: choices.map(
          (choice, index): CompletionChoice => ({
            index,
            text: echoOf(index) + choice.text,
            logprobs: logprobs === null ? null : completionLogprobs(model.tokenizer, choice.logprobs, 0),
            finish_reason: choice.finishReason,
          }),
        ),
        usage: usageOf(run),
      } satisfies CompletionResponse;
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: CompletionChoice[]): CompletionResponse => ({
      id,
      object: "text_completion",
      created,
      model: model.name,
      choices,
      ...(includeUsage ? { usage: null } : {}),
    });
    /** Characters of the tokens streamed so far per choice: logprobs' text_offset. */
    const offsets = new Array<number>(run.choiceCount).fill(0);
    await streamRun(
      run,
      request,
      reply,
      {
        opening: () =>
          body.echo
            ? Array.from({ length: run.choiceCount }, (_, index) =>
                chunk([{ index, text: echoOf(index), logprobs: null, finish_reason: null }]),
              )
            : [],
        event: ({ index, text, logprobs: tokenLogprobs, finishReason }: ChoiceEvent) => {
          const chunks: CompletionResponse[] = [];
          if (text !== "" || tokenLogprobs) {
            const eventLogprobs =
              tokenLogprobs && completionLogprobs(model.tokenizer, [tokenLogprobs], offsets[index]);
            if (eventLogprobs) offsets[index] += eventLogprobs.tokens[0].length;
            chunks.push(chunk([{ index, text, logprobs: eventLogprobs, finish_reason: null }]));
          }
          if (finishReason)
            chunks.push(chunk([{ index, text: "", logprobs: null, finish_reason: finishReason }]));
          return chunks;
        },
        usage: (usage) => ({ ...chunk([]), usage }),
      },
      includeUsage,
      sseKeepAliveMs,
    );
  });
}
