import { h, uniqueId } from "./dom.js";
import { errorNotice, failedOutcome, generate, statsLine } from "./generation.js";
import { copyText, type Mode, type ModeContext } from "./mode.js";
import { OutputView, type TokenLogprob, tokenLegend } from "./output.js";

/** Completion: a raw prompt, and its continuation shown after it, highlighted. */

interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
}

function readChunk(event: Record<string, unknown>) {
  const choice = (
    event.choices as
      | { text: string; logprobs?: CompletionLogprobs | null; finish_reason?: string | null }[]
      | undefined
  )?.[0];
  if (!choice) return undefined;
  const logprobs = choice.logprobs;
  const tokens: TokenLogprob[] | undefined = logprobs?.tokens.map((token, i) => ({
    token,
    logprob: logprobs.token_logprobs[i],
    alternatives: Object.entries(logprobs.top_logprobs[i] ?? {}),
  }));
  return { text: choice.text, tokens, finishReason: choice.finish_reason };
}

export class CompletionMode implements Mode {
  readonly id = "completion";
  readonly label = "Completion";
  readonly element: HTMLElement;
  private readonly prompt: HTMLTextAreaElement;
  private readonly result: HTMLElement;
  private readonly generateButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private running?: AbortController;

  constructor(private readonly context: ModeContext) {
    const promptId = uniqueId("prompt");
    this.prompt = h("textarea", {
      id: promptId,
      rows: 5,
      placeholder: "Once upon a time; Ctrl+Enter generates",
      onkeydown: (event) => {
        const key = event as KeyboardEvent;
        if (key.key === "Enter" && (key.ctrlKey || key.metaKey)) {
          key.preventDefault();
          void this.run();
        }
      },
    });
    this.generateButton = h("button", { type: "submit", class: "primary" }, "Generate");
    this.stopButton = h("button", { type: "button", disabled: true, onclick: () => this.stop() }, "Stop");
    this.result = h("div", {
      class: "completion-result",
      "aria-live": "polite",
      "aria-label": "Prompt and continuation",
    });
    const clear = h(
      "button",
      {
        type: "button",
        onclick: () => {
          this.stop();
          this.result.replaceChildren();
        },
      },
      "Clear",
    );
    this.element = h(
      "section",
      { class: "mode", "aria-label": "Completion" },
      h(
        "form",
        {
          class: "composer",
          onsubmit: (event) => {
            event.preventDefault();
            void this.run();
          },
        },
        h("label", { for: promptId }, "Prompt"),
        this.prompt,
        h("div", { class: "buttons" }, this.generateButton, this.stopButton, clear),
      ),
      this.result,
    );
  }

  stop(): void {
    this.running?.abort();
  }

  private setBusy(busy: boolean): void {
    this.generateButton.disabled = busy;
    this.stopButton.disabled = !busy;
  }

  private async run(): Promise<void> {
    const prompt = this.prompt.value;
    if (this.running || prompt === "") return;
    const controller = new AbortController();
    this.running = controller;
    this.setBusy(true);
    const continuation = h("mark", { class: "continuation" });
    const text = h("p", { class: "text" }, h("span", { class: "prompt-text" }, prompt), continuation);
    this.result.replaceChildren(text);
    const output = new OutputView(continuation, this.context.settings.tokenView);
    let outcome: Awaited<ReturnType<typeof generate>>;
    try {
      // The model first: until it answers, the controls hold no defaults to send.
      const model = await this.context.modelId();
      const sampling = this.context.settings.collect();
      const body = {
        model,
        prompt,
        ...sampling,
        ...(this.context.settings.tokenView ? { logprobs: 3 } : {}),
      };
      outcome = await generate("/v1/completions", body, readChunk, output, controller.signal);
    } catch (error) {
      outcome = failedOutcome(error);
    }
    this.running = undefined;
    this.setBusy(false);
    if (outcome.error) {
      this.result.append(errorNotice(outcome.error));
      return;
    }
    const copy: HTMLButtonElement = h(
      "button",
      { type: "button", class: "small", onclick: () => void copyText(output.text, copy) },
      "Copy continuation",
    );
    this.result.append(
      statsLine(outcome),
      ...(output.coloured ? [tokenLegend()] : []),
      h("div", { class: "actions" }, copy),
    );
  }
}
