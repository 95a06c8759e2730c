import { h } from "./dom.js";
import type { SamplingSettings } from "./settings.js";

/**
 * A way of talking to the model: chat, completion, JSON (structured output under a schema) and
 * Responses (a conversation continued from the server's stored state); main.ts lists them.
 */
export interface Mode {
  readonly id: string;
  readonly label: string;
  /** The mode's panel; main.ts shows one at a time. */
  readonly element: HTMLElement;
  /** Stops the mode's request, if one is running (Escape, switching modes). */
  stop(): void;
}

/** What every mode shares. */
export interface ModeContext {
  readonly settings: SamplingSettings;
  /** The served model's id (GET /v1/models), fetched once the API answers. */
  modelId(): Promise<string>;
}

/** Copies text to the clipboard; where the Clipboard API is missing (plain http), through a selection. */
async function copyText(text: string, button: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

/** A small button that copies `text()`, read when it is clicked, and says so on itself. */
export function copyButton(label: string, text: () => string): HTMLButtonElement {
  const button: HTMLButtonElement = h(
    "button",
    { type: "button", class: "small", onclick: () => void copyText(text(), button) },
    label,
  );
  return button;
}
