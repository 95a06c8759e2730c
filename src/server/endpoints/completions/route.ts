import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { PromptTokenLogprobs } from "../../../generation/prompt-scoring.js";
import type { ChoiceEvent } from "../../../scheduler/choice-events.js";
import { unsupportedParameter } from "../../errors.js";
import { completionLogprobs } from "../shared/logprobs.js";
import { requestedModel } from "../shared/prompt-checks.js";
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
import { candidatesPerPrompt, checkBestOf, pickBest } from "./best-of.js";
import {
  concatLogprobs,
  echoedPromptLogprobs,
  generatedLogprobs,
  vllmPromptLogprobs,
} from "./echo-logprobs.js";
import { completionPrompts, promptCount } from "./prompts.js";
import {
  type CompletionChoice,
  CompletionChunk,
  type CompletionResponse,
  completionsRoute,
} from "./schema.js";
import { completionSpecs } from "./spec.js";

/** POST /v1/completions: each prompt of the array is its own group of n choices, prompt-major. */
export async function completionsEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler, config } = app.trine;
  const serializeChunk = responseSerializer(CompletionChunk, app.trine.checkResponses);

  app.post("/v1/completions", { schema: completionsRoute }, async (request, reply) => {
    const { body } = request;
    const model = requestedModel(scheduler, body.model);
    await loadConstraintChecks(body);
    if (body.suffix != null)
      throw unsupportedParameter("suffix", "insertion after a suffix is not implemented");
    const logprobs = body.logprobs ?? null;
    /** Echo with logprobs: the prompt's scores come first in each choice's logprobs. */
    const echoScored = body.echo === true && logprobs !== null;
    const promptListed = body.prompt_logprobs ?? null;

    const n = body.n ?? 1;
    checkBestOf(body, promptCount(body.prompt), config);
    /** Run choices per prompt: best_of's candidates, of which n are returned. */
    const candidates = candidatesPerPrompt(body);
    const prompts = await completionPrompts(body.prompt, n, model, config);
    const texts = prompts.map(
      (prompt) => prompt.text ?? model.tokenizer.decode(prompt.ids, { skipSpecialTokens: false }),
    );
    const generation = completionSpecs(
      body,
      prompts.map((prompt) => prompt.ids),
      model,
      config,
    );
    await checkCompiles(model, generation, constraintParam(body));
    request.log.debug({ prompt: body.prompt }, "prompt");

    const run = await startRun(generation, request, reply);
    const id = responseId("cmpl");
    const created = unixSeconds();
    // By the run's choice index (candidates per prompt), which is the answer's without best_of.
    const echoOf = (index: number) => (body.echo ? texts[Math.floor(index / candidates)] : "");
    const promptOf = (index: number) => prompts[Math.floor(index / candidates)].ids;
    const { tokenizer } = model;
    const promptParts = (index: number, scores: readonly (PromptTokenLogprobs | null)[]) => ({
      echoed: echoScored
        ? echoedPromptLogprobs(tokenizer, promptOf(index), scores, logprobs ?? 0, echoOf(index))
        : null,
      listed:
        promptListed === null
          ? {}
          : { prompt_logprobs: vllmPromptLogprobs(tokenizer, promptOf(index), scores, promptListed) },
    });

    if (!body.stream) {
      const collected = await collectChoices(run);
      const choices =
        candidates > n
          ? pickBest(collected, candidates, n)
          : collected.map((choice, runIndex) => ({ choice, runIndex }));
      return {
        id,
        object: "text_completion",
        created,
        model: model.name,
        choices: choices.map(({ choice, runIndex }, index): CompletionChoice => {
          const { echoed, listed } = promptParts(runIndex, choice.promptLogprobs ?? []);
          return {
            index,
            text: echoOf(runIndex) + choice.text,
            logprobs:
              logprobs === null
                ? null
                : echoed
                  ? concatLogprobs(
                      echoed,
                      generatedLogprobs(tokenizer, choice.logprobs, choice.stopLogprobs, echoOf(runIndex)),
                    )
                  : completionLogprobs(tokenizer, choice.logprobs, 0),
            finish_reason: choice.finishReason,
            ...listed,
          };
        }),
        usage: usageOf(run),
      } satisfies CompletionResponse;
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: CompletionChoice[]): CompletionChunk => ({
      id,
      object: "text_completion",
      created,
      model: model.name,
      choices,
      ...(includeUsage ? { usage: null } : {}),
    });
    /** Characters of the tokens streamed so far per choice: logprobs' text_offset. */
    const offsets = new Array<number>(run.choiceCount).fill(0);
    await streamRun(run, request, reply, {
      opening: () =>
        body.echo && !echoScored
          ? Array.from({ length: run.choiceCount }, (_, index) =>
              chunk([{ index, text: echoOf(index), logprobs: null, finish_reason: null }]),
            )
          : [],
      event: ({
        index,
        text,
        logprobs: tokenLogprobs,
        finishReason,
        promptLogprobs,
        stopLogprobs,
      }: ChoiceEvent) => {
        const chunks: CompletionChunk[] = [];
        if (promptLogprobs) {
          // The scored prompt: with echo and logprobs it is the echo itself, its offsets the start.
          const { echoed, listed } = promptParts(index, promptLogprobs);
          if (echoed) offsets[index] = echoOf(index).length;
          chunks.push(
            chunk([
              { index, text: echoed ? echoOf(index) : "", logprobs: echoed, finish_reason: null, ...listed },
            ]),
          );
        }
        if (stopLogprobs && echoScored) {
          const stop = completionLogprobs(tokenizer, [stopLogprobs], offsets[index]);
          chunks.push(chunk([{ index, text: "", logprobs: stop, finish_reason: null }]));
        }
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
      usage: includeUsage ? (usage) => ({ ...chunk([]), usage }) : null,
      serialize: serializeChunk,
    });
  });
}
