import { ApiError } from "./api.js";
import { composerForm, messageElement, messageInput } from "./chat.js";
import { h, uniqueId } from "./dom.js";
import {
  errorNotice,
  generate,
  type Outcome,
  type Piece,
  RESPONSE_STREAM,
  RequestSlot,
  statsLine,
} from "./generation.js";
import { copyButton, type Mode, type ModeContext } from "./mode.js";
import { OutputView } from "./output.js";

/**
 * Responses: a conversation through POST /v1/responses. Each message sends only its own text and
 * the id of the last response (`previous_response_id`): the server continues from the recurrent
 * state it stored with that response instead of re-reading the conversation, which each reply's
 * usage line shows as cached input tokens. The id lives in an editable field, so a conversation
 * stored earlier (the store outlives restarts and is shared by replicas) can be continued by
 * pasting its last id.
 */

/** What the page reads of a response object. */
interface ResponseSummary {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: string } | null;
  usage: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number };
    output_tokens: number;
  } | null;
}

/** Reads the named events: text from the deltas; the last event's response goes to `onResponse`. */
function responseReader(onResponse: (response: ResponseSummary) => void) {
  return (event: Record<string, unknown>, name?: string): Piece | undefined => {
    if (name === "response.output_text.delta") return { text: event.delta as string };
    if (!name || !RESPONSE_STREAM.lastEvents?.includes(name)) return undefined;
    const response = event.response as ResponseSummary;
    // response.failed: the server sends an `error` event before it, so this is a fallback.
    if (response.error) throw new ApiError(response.error.message, "stream", undefined, response.error.code);
    onResponse(response);
    return { text: "", finishReason: response.incomplete_details?.reason ?? response.status };
  };
}

/** The response's id and how much of its prompt came from the stored state, as text. */
function usageLine(response: ResponseSummary): HTMLElement {
  const usage = response.usage;
  return h(
    "p",
    { class: "stats response-usage" },
    "Response ",
    h("code", {}, response.id),
    usage &&
      `: ${usage.input_tokens} input tokens, ${usage.input_tokens_details.cached_tokens} of them cached; ${usage.output_tokens} output tokens`,
  );
}

export class ResponsesMode implements Mode {
  readonly id = "responses";
  readonly label = "Responses";
  readonly element: HTMLElement;
  private readonly instructions: HTMLTextAreaElement;
  /** The conversation's last response id: what the next message continues from. */
  private readonly previousId: HTMLInputElement;
  private readonly log: HTMLOListElement;
  private readonly input: HTMLTextAreaElement;
  private readonly inFlight = new RequestSlot("Send");

  constructor(private readonly context: ModeContext) {
    const instructionsId = uniqueId("instructions");
    const previousId = uniqueId("previous-response");
    const inputId = uniqueId("response-message");
    this.instructions = h("textarea", {
      id: instructionsId,
      rows: 2,
      placeholder: "e.g. You tell short stories. Sent with every message (instructions are not inherited).",
    });
    this.previousId = h("input", {
      id: previousId,
      type: "text",
      class: "code",
      autocomplete: "off",
      spellcheck: false,
      placeholder: "empty: a new conversation; each reply fills in its id",
    });
    this.log = h("ol", { class: "conversation", "aria-label": "Conversation", "aria-live": "polite" });
    this.input = messageInput(inputId, () => void this.send());
    const restart = h(
      "button",
      { type: "button", onclick: () => this.newConversation() },
      "New conversation",
    );
    this.element = h(
      "section",
      { class: "mode", "aria-label": "Responses" },
      h(
        "p",
        { class: "hint" },
        "Each message is sent alone with the last response's id (previous_response_id): the server continues from the state it stored, so a reply's cached tokens are the conversation it did not re-read.",
      ),
      h(
        "div",
        { class: "field wide" },
        h("label", { for: instructionsId }, "Instructions"),
        this.instructions,
      ),
      h(
        "div",
        { class: "field wide" },
        h("label", { for: previousId }, "Continue from response id"),
        this.previousId,
      ),
      this.log,
      composerForm(inputId, this.input, () => void this.send(), [
        this.inFlight.startButton,
        this.inFlight.stopButton,
        restart,
      ]),
    );
  }

  stop(): void {
    this.inFlight.stop();
  }

  private newConversation(): void {
    this.stop();
    this.previousId.value = "";
    this.log.replaceChildren();
    this.input.focus();
  }

  /** One turn; on failure it is taken back, its text returns to the input, and the id stays. */
  private async send(): Promise<void> {
    const text = this.input.value;
    if (this.inFlight.busy || text.trim() === "") return;
    this.input.value = "";
    const user = messageElement("user", text);
    const element = messageElement("assistant", "");
    element.setAttribute("aria-busy", "true");
    this.log.append(user, element);
    const output = new OutputView(element.querySelector(".text")!, false);
    let response: ResponseSummary | undefined;
    const outcome = await this.inFlight.run((signal) =>
      this.request(text, output, signal, (done) => {
        response = done;
      }),
    );
    element.removeAttribute("aria-busy");
    if (!this.log.contains(element)) return; // a new conversation began while it ran
    if (outcome.error) {
      element.remove();
      user.remove();
      if (this.input.value === "") this.input.value = text;
      this.log.append(errorNotice(outcome.error));
    } else {
      if (response) this.previousId.value = response.id;
      element.append(
        statsLine(outcome),
        response
          ? usageLine(response)
          : h(
              "p",
              { class: "stats" },
              "Stopped before the server stored it: the next message continues as if this turn had not happened.",
            ),
        h(
          "div",
          { class: "actions" },
          copyButton("Copy", () => output.text),
        ),
      );
    }
    this.input.focus();
  }

  private async request(
    text: string,
    output: OutputView,
    signal: AbortSignal,
    onResponse: (response: ResponseSummary) => void,
  ): Promise<Outcome> {
    // The model first: until it answers, the controls hold no defaults to send.
    const model = await this.context.modelId();
    const { max_tokens, ...sampling } = this.context.settings.collect();
    const previous = this.previousId.value.trim();
    const body = {
      model,
      input: text,
      ...(this.instructions.value.trim() === "" ? {} : { instructions: this.instructions.value }),
      ...(previous === "" ? {} : { previous_response_id: previous }),
      ...sampling,
      max_output_tokens: max_tokens,
    };
    return generate("/v1/responses", body, responseReader(onResponse), output, signal, RESPONSE_STREAM);
  }
}
