import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { requestedModel } from "../shared/prompt-checks.js";
import { type TokenizerInfoResponse, tokenizerInfoRoute } from "./schema.js";

/**
 * GET /tokenizer_info, as vLLM answers it. With it and /tokenize, lm-evaluation-harness's default
 * tokenizer_backend=auto tokenizes through this server, so a client needs no tokenizer files.
 */
export async function tokenizerInfoEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler, config } = app.trine;

  app.get("/tokenizer_info", { schema: tokenizerInfoRoute }, async (): Promise<TokenizerInfoResponse> => {
    const model = requestedModel(scheduler, undefined);
    const { tokenizer, tokenizerConfig } = model;
    const tokenText = (id: number | undefined) =>
      id === undefined ? null : (tokenizer.idToToken(id) ?? null);
    // tokenizer_config.json spells a token as a string or as an AddedToken object {content, ...}.
    const configToken = (value: unknown) => {
      if (typeof value === "string") return value;
      const content = (value as { content?: unknown } | null)?.content;
      return typeof content === "string" ? content : null;
    };
    const bos = tokenText(tokenizer.bosTokenId);
    return {
      tokenizer_class:
        typeof tokenizerConfig.tokenizer_class === "string"
          ? tokenizerConfig.tokenizer_class
          : "PreTrainedTokenizerFast",
      bos_token: bos,
      eos_token: tokenText(tokenizer.eosTokenId),
      pad_token: configToken(tokenizerConfig.pad_token),
      unk_token: configToken(tokenizerConfig.unk_token),
      add_bos_token: bos !== null && tokenizer.encode("").includes(tokenizer.bosTokenId!),
      vocab_size: model.vocabSize,
      model_max_length: config.maxPromptTokens,
      chat_template: model.chatTemplate.source,
    };
  });
}
