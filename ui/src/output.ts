import { h } from "./dom.js";

/**
 * Where a generated text grows: plain text, or with the token view one span per token, coloured
 * by its probability (red unlikely, green likely) with the alternatives in its tooltip.
 */

export interface TokenLogprob {
  token: string;
  logprob: number;
  alternatives: [string, number][];
}

const percent = (logprob: number) => `${(Math.exp(logprob) * 100).toFixed(1)}%`;

export class OutputView {
  private readonly plain: Text;

  constructor(
    readonly element: HTMLElement,
    private readonly tokenView: boolean,
  ) {
    this.plain = document.createTextNode("");
    element.append(this.plain);
  }

  /** `tokens`, when the request asked for them, spell out `text` token by token. */
  push(text: string, tokens: TokenLogprob[] | undefined): void {
    if (!this.tokenView || !tokens || tokens.map((t) => t.token).join("") !== text) {
      this.element.append(text);
      return;
    }
    for (const token of tokens) {
      const span = h(
        "span",
        {
          class: "token",
          title: [
            `${JSON.stringify(token.token)}: ${percent(token.logprob)} (logprob ${token.logprob.toFixed(3)})`,
            ...token.alternatives.map(
              ([alternative, logprob]) => `  ${JSON.stringify(alternative)}: ${percent(logprob)}`,
            ),
          ].join("\n"),
        },
        token.token,
      );
      span.style.setProperty("--p", Math.exp(token.logprob).toFixed(3));
      this.element.append(span);
    }
  }

  get text(): string {
    return this.element.textContent ?? "";
  }
}
