import { randomBytes } from "node:crypto";
import type { OutputConstraint } from "../../../generation/sequence-spec.js";
import { invalidRequest } from "../../errors.js";
import { checked } from "../shared/structured-output.js";

/**
 * Tool calling on chat completions. The model writes a call as
 *
 *   <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>
 *
 * (the format the default chat template shows it, Hermes' and Qwen's). With tool_choice
 * "required" or a named function the whole answer is constrained to such calls, the arguments to
 * the function's `parameters` schema; with "auto" the model writes text freely until it writes
 * the trigger "<tool_call>", from where an xgrammar structural tag constrains the call. The
 * answer is then parsed back into OpenAI's `message.tool_calls`.
 */

export const TOOL_CALL_BEGIN = "<tool_call>";
export const TOOL_CALL_END = "</tool_call>";

export interface FunctionTool {
  readonly type: "function";
  readonly function: {
    readonly name: string;
    readonly description?: string;
    readonly parameters?: Record<string, unknown>;
    readonly strict?: boolean | null;
  };
}

export type ToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

/** What a request's tools fields come to. */
export interface ToolPlan {
  /** The tools the prompt shows the model (none with tool_choice "none"). */
  readonly tools: readonly FunctionTool[];
  /** The output constraint the choice implies; null for none. */
  readonly constraint: OutputConstraint | null;
  /** Whether the answer is parsed for tool calls. */
  readonly parsesCalls: boolean;
}

/** A function's parameters when it declares none: an object with no properties. */
const NO_PARAMETERS = { type: "object", properties: {} };

/** Checks tools, tool_choice and parallel_tool_calls; a 400 naming the field otherwise. */
export function toolPlan(
  tools: readonly FunctionTool[] | null | undefined,
  choice: ToolChoice | null | undefined,
  parallel: boolean | null | undefined,
): ToolPlan {
  const list = tools ?? [];
  const names = new Set<string>();
  list.forEach((tool, i) => {
    if (names.has(tool.function.name))
      throw invalidRequest(
        `Tool names must be unique: '${tool.function.name}' is defined twice.`,
        `tools[${i}].function.name`,
        "invalid_value",
      );
    names.add(tool.function.name);
    // The arguments' grammar: a schema xgrammar cannot use is refused here, naming the tool.
    checked(
      { type: "json_schema", schema: tool.function.parameters ?? NO_PARAMETERS },
      `tools[${i}].function.parameters`,
    );
  });
  const mode = choice ?? (list.length > 0 ? "auto" : "none");
  if (mode === "none") return { tools: [], constraint: null, parsesCalls: false };
  if (list.length === 0)
    throw invalidRequest(
      "tool_choice other than 'none' needs at least one tool in 'tools'.",
      "tool_choice",
      "invalid_value",
    );
  let called = list;
  if (typeof mode === "object") {
    called = list.filter((tool) => tool.function.name === mode.function.name);
    if (called.length === 0)
      throw invalidRequest(
        `tool_choice names the function '${mode.function.name}', which is not among the tools.`,
        "tool_choice.function.name",
        "invalid_value",
      );
  }
  const tags = called.map((tool) => ({
    type: "tag",
    begin: `${TOOL_CALL_BEGIN}{"name": ${JSON.stringify(tool.function.name)}, "arguments": `,
    content: { type: "json_schema", json_schema: tool.function.parameters ?? NO_PARAMETERS },
    end: `}${TOOL_CALL_END}`,
  }));
  const once = parallel === false || typeof mode === "object";
  const format =
    mode === "auto"
      ? { type: "triggered_tags", triggers: [TOOL_CALL_BEGIN], tags, stop_after_first: once }
      : { type: "tags_with_separator", tags, separator: "\n", at_least_one: true, stop_after_first: once };
  return {
    tools: list,
    constraint: checked(
      { type: "structural_tag", structuralTag: { type: "structural_tag", format } },
      "tool_choice",
    ),
    parsesCalls: true,
  };
}

export interface ParsedToolCall {
  readonly id: string;
  readonly type: "function";
  readonly function: { readonly name: string; readonly arguments: string };
}

/** A call id as OpenAI writes them. */
export function toolCallId(): string {
  return `call_${randomBytes(12).toString("base64url")}`;
}

/** One `<tool_call>` block's JSON as a call, or null when it is not one (cut short by max_tokens). */
export function parseToolCall(json: string): ParsedToolCall | null {
  try {
    const call = JSON.parse(json) as { name?: unknown; arguments?: unknown };
    if (typeof call.name !== "string" || call.arguments === undefined) return null;
    return {
      id: toolCallId(),
      type: "function",
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    };
  } catch {
    return null;
  }
}

/** An answer's text split into the text outside calls (null when none) and its complete calls. */
export function parseToolCalls(text: string): { content: string | null; calls: ParsedToolCall[] } {
  const calls: ParsedToolCall[] = [];
  let content = "";
  let rest = text;
  for (;;) {
    const begin = rest.indexOf(TOOL_CALL_BEGIN);
    const end = begin < 0 ? -1 : rest.indexOf(TOOL_CALL_END, begin);
    const call = end < 0 ? null : parseToolCall(rest.slice(begin + TOOL_CALL_BEGIN.length, end));
    if (!call) {
      content += rest;
      break;
    }
    calls.push(call);
    content += rest.slice(0, begin);
    rest = rest.slice(end + TOOL_CALL_END.length);
  }
  const trimmed = content.trim();
  return { content: trimmed === "" && calls.length > 0 ? null : calls.length > 0 ? trimmed : content, calls };
}

/**
 * The streaming side of parseToolCalls for one choice: text outside calls passes on as it comes
 * (held back only while it could be the start of "<tool_call>"), a call comes out whole once its
 * "</tool_call>" arrives.
 */
export class ToolCallStream {
  private pending = "";
  private insideCall = false;
  callCount = 0;

  /** The content to emit now and the calls completed by `text`. */
  push(text: string): { content: string; calls: ParsedToolCall[] } {
    this.pending += text;
    let content = "";
    const calls: ParsedToolCall[] = [];
    for (;;) {
      if (!this.insideCall) {
        const begin = this.pending.indexOf(TOOL_CALL_BEGIN);
        if (begin < 0) {
          const keep = partialPrefixLength(this.pending, TOOL_CALL_BEGIN);
          content += this.pending.slice(0, this.pending.length - keep);
          this.pending = this.pending.slice(this.pending.length - keep);
          break;
        }
        content += this.pending.slice(0, begin);
        this.pending = this.pending.slice(begin + TOOL_CALL_BEGIN.length);
        this.insideCall = true;
      }
      const end = this.pending.indexOf(TOOL_CALL_END);
      if (end < 0) break;
      const call = parseToolCall(this.pending.slice(0, end));
      if (call) calls.push(call);
      else content += `${TOOL_CALL_BEGIN}${this.pending.slice(0, end + TOOL_CALL_END.length)}`;
      this.pending = this.pending.slice(end + TOOL_CALL_END.length);
      this.insideCall = false;
    }
    this.callCount += calls.length;
    return { content, calls };
  }

  /** What is still held back at the end of the answer (a call cut short stays text). */
  flush(): string {
    const rest = this.insideCall ? `${TOOL_CALL_BEGIN}${this.pending}` : this.pending;
    this.pending = "";
    this.insideCall = false;
    return rest;
  }
}

/** The length of the longest end of `text` that begins `marker`. */
function partialPrefixLength(text: string, marker: string): number {
  for (let length = Math.min(marker.length - 1, text.length); length > 0; length--)
    if (marker.startsWith(text.slice(text.length - length))) return length;
  return 0;
}
