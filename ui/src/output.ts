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

/** What the colours mean, shown under a message whose tokens are coloured (colour is not the only cue: each token's tooltip has its numbers). */
export function tokenLegend(): HTMLElement {
  return h(
    "p",
    { class: "legend" },
    "Token colour: its probability, from red (unlikely) to green (likely); hover a token for the figures and the alternatives.",
  );
}

export class OutputView {
  /** Tokens whose text has not arrived yet: the server may hold text back (e.g. a newline) while sending its logprob. */
  private pending: TokenLogprob[] = [];
  /** Text not yet matched to a token. */
  private unmatched = "";

  constructor(
    readonly element: HTMLElement,
    private readonly tokenView: boolean,
  ) {}

  /** `tokens`, when the request asked for them, spell out the text over the whole stream, not chunk by chunk. */
  push(text: string, tokens: TokenLogprob[] | undefined): void {
    if (!this.tokenView) {
      this.element.append(text);
      return;
    }
    this.unmatched += text;
    if (tokens) this.pending.push(...tokens);
    while (this.pending.length > 0) {
      const next = this.pending[0];
      if (this.unmatched.startsWith(next.token)) {
        this.element.append(this.tokenSpan(next));
        this.unmatched = this.unmatched.slice(next.token.length);
        this.pending.shift();
      } else if (next.token.startsWith(this.unmatched)) {
        return; // the rest of its text is still to come
      } else {
        // Text that no token spells (a stop string cut it): shown plain, the tokens dropped.
        this.pending = [];
      }
    }
    this.flush();
  }

  /** Shows text still waiting for its token; the stream's end calls it. */
  flush(): void {
    if (this.unmatched !== "") this.element.append(this.unmatched);
    this.unmatched = "";
  }

  private tokenSpan(token: TokenLogprob): HTMLElement {
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
    return span;
  }

  /** Whether any token was shown coloured. */
  get coloured(): boolean {
    return this.element.querySelector(".token") !== null;
  }

  get text(): string {
    return this.element.textContent ?? "";
  }
}
