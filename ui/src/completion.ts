import { h, uniqueId } from "./dom.js";
import { errorNotice, generate, RequestSlot, statsLine } from "./generation.js";
import { copyButton, type Mode, type ModeContext } from "./mode.js";
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
  private readonly inFlight = new RequestSlot("Generate");

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
        h("div", { class: "buttons" }, this.inFlight.startButton, this.inFlight.stopButton, clear),
      ),
      this.result,
    );
  }

  stop(): void {
    this.inFlight.stop();
  }

  private async run(): Promise<void> {
    const prompt = this.prompt.value;
    if (this.inFlight.busy || prompt === "") return;
    const continuation = h("mark", { class: "continuation" });
    const text = h("p", { class: "text" }, h("span", { class: "prompt-text" }, prompt), continuation);
    this.result.replaceChildren(text);
    const output = new OutputView(continuation, this.context.settings.tokenView);
    const outcome = await this.inFlight.run(async (signal) => {
      // The model first: until it answers, the controls hold no defaults to send.
      const model = await this.context.modelId();
      const sampling = this.context.settings.collect();
      const body = {
        model,
        prompt,
        ...sampling,
        ...(this.context.settings.tokenView ? { logprobs: 3 } : {}),
      };
      return generate("/v1/completions", body, readChunk, output, signal);
    });
    if (outcome.error) {
      this.result.append(errorNotice(outcome.error));
      return;
    }
    this.result.append(
      statsLine(outcome),
      ...(output.coloured ? [tokenLegend()] : []),
      h(
        "div",
        { class: "actions" },
        copyButton("Copy continuation", () => output.text),
      ),
    );
  }
}
