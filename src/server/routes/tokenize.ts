import type { FastifyInstance } from "fastify";
import { TokenIdOutOfRangeError } from "../../tokenizer/index.js";
import { templateMessages } from "../chat-template.js";
import { InvalidRequestError } from "../errors.js";
import { checkPromptText, requestedModel } from "../generation-request.js";
import {
  type DetokenizeRequest,
  detokenizeRouteSchema,
  type TokenizeRequest,
  type TokenizeResponse,
  tokenizeRouteSchema,
} from "../protocol.js";

/** POST /tokenize and /detokenize: the ids generation would see, and text back from ids. */
export async function tokenizeRoutes(app: FastifyInstance): Promise<void> {
  const { service, config } = app.trine;

  app.post("/tokenize", { schema: tokenizeRouteSchema }, async (request): Promise<TokenizeResponse> => {
    const body = request.body as TokenizeRequest;
    const model = requestedModel(service, body.model);
    if ((body.prompt === undefined) === (body.messages === undefined)) {
      throw new InvalidRequestError(
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

  app.post("/detokenize", { schema: detokenizeRouteSchema }, async (request) => {
    const body = request.body as DetokenizeRequest;
    const model = requestedModel(service, body.model);
    try {
      return { prompt: model.tokenizer.decode(body.tokens) };
    } catch (error) {
      if (error instanceof TokenIdOutOfRangeError)
        throw new InvalidRequestError(error.message, "tokens", "invalid_value");
      throw error;
    }
  });
}
