import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { ModelFileError } from "../engine/errors.js";
import type { Tokenizer } from "../tokenizer/index.js";
import type { ChatMessage } from "./endpoints/chat-completions/schema.js";
import { invalidRequest } from "./errors.js";

/**
 * Chat messages to prompt tokens. A model whose tokenizer_config.json has a `chat_template`
 * is rendered with it (Jinja, as transformers' apply_chat_template does, then tokenized without
 * adding special tokens, since such templates write bos themselves). Otherwise the default
 * template below frames the conversation as plain text and the prompt is tokenized as a
 * completion prompt is (bos first).
 */

/** The default conversation format (docs/API.md, "Chat template"). */
export const DEFAULT_CHAT_TEMPLATE = [
  "{%- if tools -%}",
  `{{ 'System: You can call these functions. To call one, write <tool_call>{"name": the name, "arguments": the arguments as JSON}</tool_call>.\\n' }}`,
  "{%- for tool in tools -%}{{ (tool.function | tojson) + '\\n' }}{%- endfor -%}{{ '\\n' }}",
  "{%- endif -%}",
  "{%- for message in messages -%}",
  "{%- if message.role == 'system' or message.role == 'developer' -%}{{ 'System: ' + message.content + '\\n\\n' }}",
  "{%- elif message.role == 'user' -%}{{ 'User: ' + message.content + '\\n\\n' }}",
  "{%- elif message.role == 'assistant' -%}{{ 'Assistant: ' + message.content }}",
  "{%- if message.tool_calls -%}{%- for call in message.tool_calls -%}",
  `{{ '<tool_call>' + ({"name": call.function.name, "arguments": call.function.arguments} | tojson) + '</tool_call>' }}`,
  "{%- endfor -%}{%- endif -%}{{ '\\n\\n' }}",
  "{%- elif message.role == 'tool' -%}{{ 'Tool: ' + message.content + '\\n\\n' }}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}",
].join("\n");

/**
 * Under the default template a model that knows no chat format tends to write the user's next
 * turn itself; the assistant's turn ends where that would begin.
 */
export const DEFAULT_TEMPLATE_STOP_STRINGS: readonly string[] = ["\nUser:"];

/** A message as templates see it: content always a string. */
export interface TemplateMessage {
  role: string;
  content: string;
  name?: string;
  /** An assistant message's calls, arguments parsed (as transformers' templates expect them). */
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: unknown } }[];
  /** A tool message's call. */
  tool_call_id?: string;
}

export interface TokenizedChat {
  /** The rendered prompt. */
  text: string;
  ids: number[];
  /**
   * Tokens of the leading system message(s) when they form a token prefix of the prompt: the
   * point where a prefix state is worth caching, since many conversations share it.
   */
  systemPrefixTokens: number | undefined;
}

export class ChatTemplate {
  private readonly template: Template;

  private constructor(
    /** The Jinja source (GET /tokenizer_info hands it to clients that template for themselves). */
    readonly source: string,
    private readonly tokenizer: Tokenizer,
    /** Whether this is the model's own template (true) or DEFAULT_CHAT_TEMPLATE. */
    readonly fromModel: boolean,
  ) {
    this.template = new Template(source);
  }

  /** The model's template, or the default; a template that does not parse stops start-up. */
  static forModel(
    modelDir: string,
    tokenizerConfig: Record<string, unknown>,
    tokenizer: Tokenizer,
  ): ChatTemplate {
    const source = modelTemplateSource(tokenizerConfig.chat_template);
    if (source === undefined) return new ChatTemplate(DEFAULT_CHAT_TEMPLATE, tokenizer, false);
    try {
      return new ChatTemplate(source, tokenizer, true);
    } catch (error) {
      throw new ModelFileError(
        join(modelDir, "tokenizer_config.json"),
        `chat_template does not parse: ${(error as Error).message}`,
      );
    }
  }

  /** Stop strings every chat request gets on top of its own. */
  get stopStrings(): readonly string[] {
    return this.fromModel ? [] : DEFAULT_TEMPLATE_STOP_STRINGS;
  }

  render(
    messages: readonly TemplateMessage[],
    addGenerationPrompt: boolean,
    tools: readonly unknown[] = [],
  ): string {
    const token = (id: number | undefined) => (id === undefined ? "" : (this.tokenizer.idToToken(id) ?? ""));
    try {
      return this.template.render({
        messages,
        add_generation_prompt: addGenerationPrompt,
        ...(tools.length > 0 ? { tools } : {}),
        bos_token: token(this.tokenizer.bosTokenId),
        eos_token: token(this.tokenizer.eosTokenId),
      });
    } catch (error) {
      throw invalidRequest(
        `The chat template cannot render these messages: ${(error as Error).message}`,
        "messages",
      );
    }
  }

  /**
   * The chat's prompt tokens, and how many of them are the system messages' (for the prefix
   * cache). `encode` tokenizes (the server passes PromptTokenizer's, which keeps long texts off
   * its event loop; by default the tokenizer itself); `checkText` sees the rendered prompt before
   * it is tokenized, and may throw to refuse it.
   */
  async tokenize(
    messages: readonly TemplateMessage[],
    addGenerationPrompt = true,
    options: { encode?: EncodeText; checkText?: (text: string) => void; tools?: readonly unknown[] } = {},
  ): Promise<TokenizedChat> {
    const encode =
      options.encode ?? ((text, addSpecialTokens) => this.tokenizer.encode(text, { addSpecialTokens }));
    const text = this.render(messages, addGenerationPrompt, options.tools);
    options.checkText?.(text);
    // A model's own template writes its special tokens; the default one leaves them to the tokenizer.
    const addSpecialTokens = !this.fromModel;
    const ids = await encode(text, addSpecialTokens);
    const systemCount = messages.findIndex((m) => m.role !== "system" && m.role !== "developer");
    if (systemCount <= 0) return { text, ids, systemPrefixTokens: undefined };
    const prefix = await encode(
      this.render(messages.slice(0, systemCount), false, options.tools),
      addSpecialTokens,
    );
    const isPrefix = prefix.length < ids.length && prefix.every((id, i) => ids[i] === id);
    return { text, ids, systemPrefixTokens: isPrefix ? prefix.length : undefined };
  }
}

/** Text to token ids, at once or later. */
export type EncodeText = (text: string, addSpecialTokens: boolean) => number[] | Promise<number[]>;

/** transformers allows one template or a list of named ones, of which "default" is used. */
function modelTemplateSource(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const named = value.find((entry) => entry?.name === "default");
    return typeof named?.template === "string" ? named.template : undefined;
  }
  return undefined;
}

/**
 * Request messages as the template sees them. Content parts must be text (joined by newlines,
 * as vLLM does); anything else is refused naming the part.
 */
export function templateMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  return messages.map((message, i) => {
    const { content } = message;
    let text: string;
    if (typeof content === "string") text = content;
    else if (content == null) text = "";
    else {
      text = content
        .map((part, j) => {
          if (part.type !== "text") {
            throw invalidRequest(
              `Only text content parts are supported, not '${part.type}'.`,
              `messages[${i}].content[${j}].type`,
              "unsupported_parameter",
            );
          }
          if (typeof part.text !== "string") {
            throw invalidRequest("A text part needs a 'text' string.", `messages[${i}].content[${j}].text`);
          }
          return part.text;
        })
        .join("\n");
    }
    const templated: TemplateMessage = { role: message.role, content: text };
    if (message.name !== undefined) templated.name = message.name;
    if (message.tool_call_id !== undefined) templated.tool_call_id = message.tool_call_id;
    if (message.tool_calls && message.tool_calls.length > 0)
      templated.tool_calls = message.tool_calls.map((call, j) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(call.function.arguments);
        } catch {
          throw invalidRequest(
            "A tool call's arguments must be JSON text.",
            `messages[${i}].tool_calls[${j}].function.arguments`,
            "invalid_value",
          );
        }
        return { id: call.id, type: "function", function: { name: call.function.name, arguments: parsed } };
      });
    return templated;
  });
}
