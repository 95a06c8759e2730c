import Type, { type Static } from "typebox";
import { Closed, ErrorResponse, Nullable } from "../shared/schema.js";

/** GET /tokenizer_info (vLLM's), defined once. */

export const TokenizerInfoResponse = Closed(
  {
    tokenizer_class: Type.String({
      description: "tokenizer_config.json's tokenizer_class, else PreTrainedTokenizerFast.",
    }),
    bos_token: Nullable(Type.String(), "The text of the beginning-of-text token; null without one."),
    eos_token: Nullable(Type.String(), "The text of the end-of-text token; null without one."),
    pad_token: Nullable(Type.String(), "tokenizer_config.json's pad_token; null without one."),
    unk_token: Nullable(Type.String(), "tokenizer_config.json's unk_token; null without one."),
    add_bos_token: Type.Boolean({ description: "Whether text prompts are framed with bos." }),
    vocab_size: Type.Integer({ description: "Token ids are 0 to vocab_size - 1." }),
    model_max_length: Type.Integer({ description: "The server's prompt token limit." }),
    chat_template: Type.String({
      description: "The Jinja chat template chat completions render: the model's, else Trine's default.",
    }),
  },
  "What a client needs to tokenize for this server itself: lm-evaluation-harness's tokenizer_backend=remote reads it.",
);
export type TokenizerInfoResponse = Static<typeof TokenizerInfoResponse>;

export const tokenizerInfoRoute = {
  summary: "The served model's tokenizer: special tokens, limits and chat template",
  tags: ["tokenizer"],
  response: { 200: TokenizerInfoResponse, 401: ErrorResponse, 503: ErrorResponse },
};
