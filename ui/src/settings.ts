import { h, uniqueId } from "./dom.js";

/**
 * The sampling controls: one row per request field, pre-filled from the server's defaults
 * (GET /v1/models/{id}/details), so what the form shows is what a request that leaves them out
 * would get. A new sampling field is one more row here.
 */

export interface GenerationDefaults {
  temperature: number;
  top_p: number;
  top_k: number;
  min_p: number;
  repetition_penalty: number;
  presence_penalty: number;
  frequency_penalty: number;
  max_tokens: number;
}

interface NumberField {
  name: keyof GenerationDefaults;
  label: string;
  min: number;
  max?: number;
  step: number;
}

const NUMBER_FIELDS: readonly NumberField[] = [
  { name: "temperature", label: "Temperature", min: 0, max: 2, step: 0.05 },
  { name: "top_p", label: "Top-p", min: 0.01, max: 1, step: 0.01 },
  { name: "top_k", label: "Top-k (0 = off)", min: 0, step: 1 },
  { name: "min_p", label: "Min-p", min: 0, max: 1, step: 0.01 },
  { name: "repetition_penalty", label: "Repetition penalty", min: 0.01, max: 10, step: 0.01 },
  { name: "presence_penalty", label: "Presence penalty", min: -2, max: 2, step: 0.1 },
  { name: "frequency_penalty", label: "Frequency penalty", min: -2, max: 2, step: 0.1 },
  { name: "max_tokens", label: "Max tokens", min: 1, step: 1 },
];

/** The request fields the form stands for; `max_tokens` is renamed by chat mode. */
export interface SamplingRequest extends GenerationDefaults {
  seed?: number;
  stop?: string[];
}

export class SamplingSettings {
  private readonly inputs = new Map<keyof GenerationDefaults, HTMLInputElement>();
  private readonly seed: HTMLInputElement;
  private readonly stop: HTMLTextAreaElement;
  private readonly tokenViewBox: HTMLInputElement;
  private defaults?: GenerationDefaults;

  constructor(container: HTMLElement) {
    const rows = NUMBER_FIELDS.map((field) => {
      const id = uniqueId(field.name);
      const input = h("input", {
        id,
        name: field.name,
        type: "number",
        inputmode: "decimal",
        min: field.min,
        max: field.max,
        step: field.step,
        required: true,
      });
      this.inputs.set(field.name, input);
      return h("div", { class: "field" }, h("label", { for: id }, field.label), input);
    });
    const seedId = uniqueId("seed");
    this.seed = h("input", { id: seedId, name: "seed", type: "number", step: 1, placeholder: "random" });
    const stopId = uniqueId("stop");
    this.stop = h("textarea", { id: stopId, name: "stop", rows: 2, placeholder: "one per line" });
    const tokenId = uniqueId("token-view");
    this.tokenViewBox = h("input", { id: tokenId, type: "checkbox" });
    container.append(
      ...rows,
      h("div", { class: "field" }, h("label", { for: seedId }, "Seed"), this.seed),
      h("div", { class: "field wide" }, h("label", { for: stopId }, "Stop strings"), this.stop),
      h(
        "div",
        { class: "field check" },
        this.tokenViewBox,
        h("label", { for: tokenId }, "Show tokens and log-probabilities"),
      ),
      h("button", { type: "button", onclick: () => this.reset() }, "Reset to the model's defaults"),
    );
  }

  prefill(defaults: GenerationDefaults): void {
    this.defaults = defaults;
    this.inputs.get("max_tokens")!.max = String(defaults.max_tokens);
    this.reset();
  }

  reset(): void {
    if (!this.defaults) return;
    for (const [name, input] of this.inputs) input.value = String(this.defaults[name]);
    this.seed.value = "";
    this.stop.value = "";
  }

  get tokenView(): boolean {
    return this.tokenViewBox.checked;
  }

  /** The request's sampling fields; throws a message naming the first control with a bad value. */
  collect(): SamplingRequest {
    const values: Partial<SamplingRequest> = {};
    for (const field of NUMBER_FIELDS) {
      const input = this.inputs.get(field.name)!;
      if (!input.checkValidity() || input.value === "") {
        input.focus();
        throw new Error(`${field.label}: ${input.validationMessage || "a number is needed"}`);
      }
      values[field.name] = Number(input.value);
    }
    if (this.seed.value !== "") {
      if (!this.seed.checkValidity()) throw new Error("Seed: a whole number is needed.");
      values.seed = Number(this.seed.value);
    }
    const stops = this.stop.value.split("\n").filter((line) => line !== "");
    if (stops.length > 0) values.stop = stops;
    return values as SamplingRequest;
  }
}
