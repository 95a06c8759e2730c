import { h, uniqueId } from "./dom.js";
import { errorNotice, generate, RequestSlot, statsLine } from "./generation.js";
import { copyButton, type Mode, type ModeContext } from "./mode.js";
import { OutputView, type TokenLogprob, tokenLegend } from "./output.js";

/** Chat: a system prompt, the conversation, and a composer with send, stop, regenerate and clear. */

interface Message {
  role: "user" | "assistant";
  content: string;
  element: HTMLElement;
}

interface ChatLogprob {
  token: string;
  logprob: number;
  top_logprobs?: { token: string; logprob: number }[];
}

/** One chat.completion.chunk as the output view takes it (the JSON mode reads chat chunks too). */
export function readChatChunk(event: Record<string, unknown>) {
  const choice = (
    event.choices as
      | {
          delta?: { content?: string | null };
          logprobs?: { content?: ChatLogprob[] | null } | null;
          finish_reason?: string | null;
        }[]
      | undefined
  )?.[0];
  if (!choice) return undefined;
  const tokens: TokenLogprob[] | undefined = choice.logprobs?.content?.map((entry) => ({
    token: entry.token,
    logprob: entry.logprob,
    alternatives: (entry.top_logprobs ?? []).map((top) => [top.token, top.logprob] as [string, number]),
  }));
  return { text: choice.delta?.content ?? "", tokens, finishReason: choice.finish_reason };
}

/** A conversation's message: who speaks, and the text, as text. */
export function messageElement(role: "user" | "assistant", text: string): HTMLElement {
  return h(
    "li",
    { class: `message ${role}` },
    h("span", { class: "role" }, role === "user" ? "You" : "Model"),
    h("div", { class: "text" }, text),
  );
}

/**
 * A message box's keys: Enter sends, Shift+Enter starts a new line; an Enter that ends an IME
 * composition does not send.
 */
export function enterSends(send: () => void): (event: Event) => void {
  return (event) => {
    const key = event as KeyboardEvent;
    if (key.key === "Enter" && !key.shiftKey && !key.isComposing) {
      key.preventDefault();
      send();
    }
  };
}

/** The message box under a conversation: Enter sends (enterSends). */
export function messageInput(id: string, send: () => void): HTMLTextAreaElement {
  return h("textarea", {
    id,
    rows: 3,
    placeholder: "Type a message; Enter sends, Shift+Enter starts a new line",
    onkeydown: enterSends(send),
  });
}

/** The message box under a conversation and its buttons; submitting it sends. */
export function composerForm(
  inputId: string,
  input: HTMLElement,
  send: () => void,
  buttons: readonly HTMLElement[],
): HTMLElement {
  return h(
    "form",
    {
      class: "composer",
      onsubmit: (event) => {
        event.preventDefault();
        send();
      },
    },
    h("label", { for: inputId }, "Message"),
    input,
    h("div", { class: "buttons" }, ...buttons),
  );
}

export class ChatMode implements Mode {
  readonly id = "chat";
  readonly label = "Chat";
  readonly element: HTMLElement;
  private readonly system: HTMLTextAreaElement;
  private readonly log: HTMLOListElement;
  private readonly input: HTMLTextAreaElement;
  private readonly regenerateButton: HTMLButtonElement;
  private readonly history: Message[] = [];
  private readonly inFlight = new RequestSlot("Send", () => this.updateButtons());

  constructor(private readonly context: ModeContext) {
    const systemId = uniqueId("system");
    const inputId = uniqueId("message");
    this.system = h("textarea", { id: systemId, rows: 2, placeholder: "e.g. You tell short stories." });
    this.log = h("ol", { class: "conversation", "aria-label": "Conversation", "aria-live": "polite" });
    this.input = messageInput(inputId, () => void this.send());
    this.regenerateButton = h(
      "button",
      { type: "button", disabled: true, onclick: () => void this.regenerate() },
      "Regenerate",
    );
    const clear = h("button", { type: "button", onclick: () => this.clear() }, "Clear");
    const composer = composerForm(inputId, this.input, () => void this.send(), [
      this.inFlight.startButton,
      this.inFlight.stopButton,
      this.regenerateButton,
      clear,
    ]);
    this.element = h(
      "section",
      { class: "mode", "aria-label": "Chat" },
      h("div", { class: "field wide" }, h("label", { for: systemId }, "System prompt"), this.system),
      this.log,
      composer,
    );
  }

  stop(): void {
    this.inFlight.stop();
  }

  private clear(): void {
    this.stop();
    this.history.length = 0;
    this.log.replaceChildren();
    this.updateButtons();
  }

  private updateButtons(): void {
    this.regenerateButton.disabled = this.inFlight.busy || this.history.at(-1)?.role !== "assistant";
  }

  private async send(): Promise<void> {
    const text = this.input.value;
    if (this.inFlight.busy || text.trim() === "") return;
    const user: Message = { role: "user", content: text, element: this.bubble("user", text) };
    this.history.push(user);
    this.input.value = "";
    await this.reply(user);
  }

  private async regenerate(): Promise<void> {
    if (this.inFlight.busy || this.history.at(-1)?.role !== "assistant") return;
    this.history.pop()!.element.remove();
    await this.reply(this.history.at(-1)!);
  }

  private bubble(role: Message["role"], text: string): HTMLElement {
    const element = messageElement(role, text);
    this.log.append(element);
    return element;
  }

  /** Answers the last user message; on failure the turn is taken back and its text returns to the input. */
  private async reply(user: Message): Promise<void> {
    const element = this.bubble("assistant", "");
    element.setAttribute("aria-busy", "true");
    const output = new OutputView(element.querySelector(".text")!, this.context.settings.tokenView);
    const outcome = await this.inFlight.run((signal) => this.request(output, signal));
    element.removeAttribute("aria-busy");
    // Cleared while it ran: the conversation it belonged to is gone.
    if (!this.log.contains(element)) return;
    if (outcome.error) {
      element.remove();
      user.element.remove();
      this.history.splice(this.history.indexOf(user), 1);
      if (this.input.value === "") this.input.value = user.content;
      this.log.append(errorNotice(outcome.error));
    } else {
      const message: Message = { role: "assistant", content: output.text, element };
      this.history.push(message);
      element.append(
        statsLine(outcome),
        ...(output.coloured ? [tokenLegend()] : []),
        h(
          "div",
          { class: "actions" },
          copyButton("Copy", () => message.content),
        ),
      );
    }
    this.updateButtons();
    this.input.focus();
  }

  private async request(output: OutputView, signal: AbortSignal) {
    // The model first: until it answers, the controls hold no defaults to send.
    const model = await this.context.modelId();
    const { max_tokens, ...sampling } = this.context.settings.collect();
    const system = this.system.value.trim() === "" ? [] : [{ role: "system", content: this.system.value }];
    const body = {
      model,
      messages: [...system, ...this.history.map(({ role, content }) => ({ role, content }))],
      ...sampling,
      max_completion_tokens: max_tokens,
      ...(this.context.settings.tokenView ? { logprobs: true, top_logprobs: 3 } : {}),
    };
    return generate("/v1/chat/completions", body, readChatChunk, output, signal);
  }
}
