import { readChatChunk } from "./chat.js";
import { h, uniqueId } from "./dom.js";
import { errorNotice, generate, RequestSlot, statsLine } from "./generation.js";
import { copyButton, type Mode, type ModeContext } from "./mode.js";
import { OutputView } from "./output.js";

/**
 * Structured output: a request and a JSON schema; the answer is generated under the schema
 * (chat completions' `response_format: json_schema`, enforced token by token by the server's
 * grammar), streamed as it comes, then checked: it parses, and is shown pretty-printed. As a tool
 * call, the schema becomes a function's parameters and `tool_choice` names it: the answer is the
 * call's arguments.
 */

/** The function the tool-call option asks the model to call. */
const TOOL_NAME = "record";

interface ToolCallDelta {
  function?: { name?: string; arguments?: string };
}

/** A chat chunk's text: its content, or the arguments of the tool calls it carries. */
function readChunk(event: Record<string, unknown>) {
  const piece = readChatChunk(event);
  const delta = (event.choices as { delta?: { tool_calls?: ToolCallDelta[] } }[] | undefined)?.[0]?.delta;
  const calls = delta?.tool_calls;
  if (!piece || !calls) return piece;
  return { ...piece, text: piece.text + calls.map((call) => call.function?.arguments ?? "").join("") };
}

const EXAMPLE_SCHEMA = JSON.stringify(
  {
    type: "object",
    properties: {
      name: { type: "string", maxLength: 20 },
      age: { type: "integer", minimum: 1, maximum: 120 },
      likes: { type: "array", items: { type: "string", maxLength: 12 }, maxItems: 3 },
    },
    required: ["name", "age", "likes"],
    additionalProperties: false,
  },
  null,
  2,
);

export class JsonMode implements Mode {
  readonly id = "json";
  readonly label = "JSON";
  readonly element: HTMLElement;
  private readonly request: HTMLTextAreaElement;
  private readonly schema: HTMLTextAreaElement;
  private readonly asToolCall: HTMLInputElement;
  private readonly result: HTMLElement;
  private readonly inFlight = new RequestSlot("Generate JSON");

  constructor(private readonly context: ModeContext) {
    const requestId = uniqueId("json-request");
    const schemaId = uniqueId("json-schema");
    this.request = h("textarea", {
      id: requestId,
      rows: 2,
      placeholder: "Describe a character from a fairy tale.",
    });
    this.schema = h("textarea", { id: schemaId, rows: 12, spellcheck: false, class: "code" });
    this.schema.value = EXAMPLE_SCHEMA;
    const toolId = uniqueId("json-tool");
    this.asToolCall = h("input", { type: "checkbox", id: toolId });
    this.result = h("div", {
      class: "json-result",
      "aria-live": "polite",
      "aria-label": "Structured output",
    });
    this.element = h(
      "section",
      { class: "mode", "aria-label": "JSON" },
      h(
        "form",
        {
          class: "composer",
          onsubmit: (event) => {
            event.preventDefault();
            void this.run();
          },
        },
        h("label", { for: requestId }, "Request"),
        this.request,
        h("label", { for: schemaId }, "JSON schema"),
        this.schema,
        h(
          "span",
          { class: "checkbox" },
          this.asToolCall,
          h("label", { for: toolId }, `As a call to a tool named ${TOOL_NAME} (tools, tool_choice)`),
        ),
        h("div", { class: "buttons" }, this.inFlight.startButton, this.inFlight.stopButton),
      ),
      this.result,
    );
  }

  stop(): void {
    this.inFlight.stop();
  }

  private async run(): Promise<void> {
    if (this.inFlight.busy) return;
    let schema: unknown;
    try {
      schema = JSON.parse(this.schema.value);
    } catch (error) {
      this.result.replaceChildren(
        h("p", { class: "error", role: "alert" }, `The schema is not JSON: ${(error as Error).message}`),
      );
      return;
    }
    const raw = h("pre", { class: "text json-raw" });
    this.result.replaceChildren(raw);
    const output = new OutputView(raw, false);
    const outcome = await this.inFlight.run(async (signal) => {
      const model = await this.context.modelId();
      const constraint = this.asToolCall.checked
        ? {
            tools: [{ type: "function", function: { name: TOOL_NAME, parameters: schema } }],
            tool_choice: { type: "function", function: { name: TOOL_NAME } },
          }
        : {
            response_format: {
              type: "json_schema",
              json_schema: { name: "playground", schema, strict: true },
            },
          };
      const body = {
        model,
        messages: [
          { role: "user", content: this.request.value || "Describe a character from a fairy tale." },
        ],
        ...this.context.settings.collect(),
        ...constraint,
      };
      return generate("/v1/chat/completions", body, readChunk, output, signal);
    });
    if (outcome.error) {
      this.result.append(errorNotice(outcome.error));
      return;
    }
    this.result.append(
      statsLine(outcome),
      this.verdict(output.text, outcome.finishReason),
      h(
        "div",
        { class: "actions" },
        copyButton("Copy JSON", () => output.text),
      ),
    );
  }

  /** Whether the answer parses (a stop before the grammar's end leaves it incomplete, as OpenAI's does). */
  private verdict(text: string, finishReason: string | null | undefined): HTMLElement {
    try {
      const parsed = JSON.parse(text);
      return h(
        "div",
        { class: "json-verdict" },
        h(
          "p",
          { class: "json-valid" },
          finishReason === "tool_calls"
            ? `A call to ${TOOL_NAME} whose arguments are valid JSON, generated under the schema:`
            : "Valid JSON, generated under the schema:",
        ),
        h("pre", { class: "json-pretty" }, JSON.stringify(parsed, null, 2)),
      );
    } catch {
      const why =
        finishReason === "length" ? "it reached max tokens before the schema's end" : "it was stopped";
      return h("p", { class: "error", role: "alert" }, `Incomplete JSON: ${why}.`);
    }
  }
}
