import { randomBytes } from "node:crypto";
import type { ConversationMessage } from "../../../store/stored-response.js";
import { invalidRequest, unsupportedParameter } from "../../errors.js";
import type { InputItem, StoredInputItem } from "./schema.js";

/** Ids the Responses API gives: a prefix and random bits (responses 192, items 128). */
export const responseId = () => `resp_${randomBytes(24).toString("hex")}`;
export const itemId = () => `msg_${randomBytes(16).toString("hex")}`;

const ROLES = ["user", "assistant", "system", "developer"] as const;

/** A request's `input` as conversation messages, and as the input items stored and listed. */
export interface NewTurn {
  readonly messages: ConversationMessage[];
  readonly items: StoredInputItem[];
}

function storedItem(role: ConversationMessage["role"], texts: readonly string[]): StoredInputItem {
  return {
    id: itemId(),
    type: "message",
    role,
    status: "completed",
    content: texts.map((text) =>
      role === "assistant" ? { type: "output_text", text, annotations: [] } : { type: "input_text", text },
    ),
  };
}

/**
 * A string is one user message; items must be messages whose content is a string or text parts
 * (`input_text`, or `output_text` as assistant messages sent back carry). Anything else is a 400
 * naming the element, as the chat endpoint does.
 */
export function parseInput(input: string | InputItem[]): NewTurn {
  if (typeof input === "string") {
    return { messages: [{ role: "user", content: input }], items: [storedItem("user", [input])] };
  }
  if (input.length === 0)
    throw invalidRequest("input must have at least one item.", "input", "invalid_value");
  const messages: ConversationMessage[] = [];
  const items: StoredInputItem[] = [];
  input.forEach((item, i) => {
    if (item.type !== undefined && item.type !== "message") {
      throw unsupportedParameter(`input[${i}].type`, `only message items are supported, not '${item.type}'`);
    }
    const role = item.role as ConversationMessage["role"];
    if (!ROLES.includes(role)) {
      throw invalidRequest(
        `input[${i}].role must be one of ${ROLES.join(", ")}.`,
        `input[${i}].role`,
        item.role === undefined ? "missing_required_parameter" : "invalid_value",
      );
    }
    const { content } = item;
    if (content === undefined)
      throw invalidRequest(
        `Missing required parameter: 'input[${i}].content'.`,
        `input[${i}].content`,
        "missing_required_parameter",
      );
    const texts =
      typeof content === "string"
        ? [content]
        : content.map((part, j) => {
            if (part.type !== "input_text" && part.type !== "output_text") {
              throw unsupportedParameter(
                `input[${i}].content[${j}].type`,
                `only input_text and output_text parts are supported, not '${part.type}'`,
              );
            }
            if (typeof part.text !== "string")
              throw invalidRequest("A text part needs a 'text' string.", `input[${i}].content[${j}].text`);
            return part.text;
          });
    messages.push({ role, content: texts.join("\n") });
    items.push(storedItem(role, texts));
  });
  return { messages, items };
}
