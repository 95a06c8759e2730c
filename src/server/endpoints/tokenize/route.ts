import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { TokenIdOutOfRangeError } from "../../../tokenizer/index.js";
import { templateMessages } from "../../chat-template.js";
import { invalidRequest } from "../../errors.js";
import { checkPromptText, requestedModel } from "../shared/prompt-checks.js";
import { detokenizeRoute, type TokenizeResponse, tokenizeRoute } from "./schema.js";

/** POST /tokenize and /detokenize: the ids generation would see, and text back from ids. */
export async function tokenizeEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler, config } = app.trine;

  app.post("/tokenize", { schema: tokenizeRoute }, async (request): Promise<TokenizeResponse> => {
    const { body } = request;
    const model = requestedModel(scheduler, body.model);
    if ((body.prompt === undefined) === (body.messages === undefined)) {
      throw invalidRequest(
        "Send exactly one of 'prompt' and 'messages'.",
        body.prompt === undefined ? "prompt" : "messages",
      );
    }
    // Text too long to be a prompt is refused untokenized, as generation refuses it.
    const check = (param: string) => (text: string) => checkPromptText(text, param, model, config);
    let tokens: number[];
    if (body.prompt !== undefined) {
      check("prompt")(body.prompt);
      tokens = await model.promptTokenizer.encode(body.prompt, body.add_special_tokens ?? true);
    } else {
      const messages = templateMessages(body.messages!);
      const chat = await model.chatTemplate.tokenize(messages, body.add_generation_prompt ?? true, {
        encode: (text, addSpecialTokens) => model.promptTokenizer.encode(text, addSpecialTokens),
        checkText: check("messages"),
      });
      tokens = chat.ids;
    }
    return { tokens, count: tokens.length, max_model_len: config.maxPromptTokens };
  });

  app.post("/detokenize", { schema: detokenizeRoute }, async (request) => {
    const { body } = request;
    const model = requestedModel(scheduler, body.model);
    try {
      return { prompt: model.tokenizer.decode(body.tokens) };
    } catch (error) {
      if (error instanceof TokenIdOutOfRangeError)
        throw invalidRequest(error.message, "tokens", "invalid_value");
      throw error;
    }
  });
}
