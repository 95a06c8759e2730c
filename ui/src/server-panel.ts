import { ApiError, getJson, getText } from "./api.js";
import { h } from "./dom.js";
import type { GenerationDefaults } from "./settings.js";

/** The side panels: the server's own /metrics, polled, and the model card. */

/** Prometheus text → samples; enough for the gauges shown (no escapes inside label values). */
export function parseMetrics(
  text: string,
): { name: string; labels: Record<string, string>; value: number }[] {
  const samples = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

const MIB = 1024 * 1024;

function definitions(list: HTMLDListElement, rows: [string, string][]): void {
  list.replaceChildren(...rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

/** Polls /metrics (open without a key) every `intervalMs` while the tab is visible. */
export function startMetricsPanel(list: HTMLDListElement, status: HTMLElement, intervalMs = 2000): void {
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const samples = parseMetrics(await getText("/metrics"));
      const value = (name: string, labels: Record<string, string> = {}) =>
        samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      const number = (name: string, labels?: Record<string, string>) =>
        value(name, labels)?.value ?? Number.NaN;
      definitions(list, [
        ["Tokens/s", number("trine_generation_tokens_per_second").toFixed(1)],
        ["Running requests", String(number("trine_requests_running"))],
        ["Waiting requests", String(number("trine_requests_waiting"))],
        [
          "Sequence slots",
          `${number("trine_sequence_slots_used")} / ${number("trine_sequence_slots_total")}`,
        ],
        ["Memory (RSS)", `${(number("trine_memory_bytes", { kind: "rss" }) / MIB).toFixed(0)} MiB`],
        ["Weights", `${(number("trine_model_weight_bytes") / MIB).toFixed(1)} MiB`],
        ["Kernel", value("trine_build_info")?.labels.kernel ?? "?"],
      ]);
      status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      status.textContent = `metrics unavailable: ${error instanceof ApiError ? error.advice : (error as Error).message}`;
    }
  };
  void refresh();
  setInterval(() => void refresh(), intervalMs);
  document.addEventListener("visibilitychange", () => void refresh());
}

interface ModelCard {
  id: string;
  max_prompt_tokens: number;
  max_output_tokens: number;
}

export interface ModelDetails {
  id: string;
  generation_defaults: GenerationDefaults;
  architecture: {
    model_type: string;
    layers: number;
    hidden_size: number;
    intermediate_size: number;
    vocab_size: number;
  };
  summary: string | null;
}

/** Loads GET /v1/models and the model's details into the card; throws ApiError (e.g. 401). */
export async function loadModelCard(container: HTMLElement): Promise<ModelDetails> {
  const { data } = await getJson<{ data: ModelCard[] }>("/v1/models");
  const card = data[0];
  const details = await getJson<ModelDetails>(`/v1/models/${encodeURIComponent(card.id)}/details`);
  const { architecture: a } = details;
  const list = h("dl", {});
  definitions(list, [
    ["Model", card.id],
    ["Architecture", `${a.model_type}: ${a.layers} layers × ${a.hidden_size}, GLU ${a.intermediate_size}`],
    ["Vocabulary", `${a.vocab_size} tokens`],
    ["Longest prompt", `${card.max_prompt_tokens} tokens`],
    ["Most output", `${card.max_output_tokens} tokens`],
  ]);
  container.replaceChildren(
    list,
    ...(details.summary ? [h("p", { class: "summary" }, details.summary)] : []),
  );
  return details;
}
