// The project's one Prometheus-text parser (strict: a malformed line throws, and is reported).
import { MetricsScrape } from "../../loadtest/metrics.js";
import { ApiError, getJson, getText } from "./api.js";
import { h } from "./dom.js";
import type { GenerationDefaults } from "./settings.js";

/** The side panels: the server's own /metrics, polled, and the model card. */

const MIB = 1024 * 1024;

function definitions(list: HTMLDListElement, rows: [string, string][]): void {
  list.replaceChildren(...rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

/** Polls /metrics (open without a key) every `intervalMs` while the tab is visible. */
export function startMetricsPanel(list: HTMLDListElement, status: HTMLElement, intervalMs = 2000): void {
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const scrape = MetricsScrape.parse(await getText("/metrics"));
      const number = (name: string, labels?: Record<string, string>) =>
        scrape.series(name, labels).length === 0 ? Number.NaN : scrape.value(name, labels);
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
        ["Kernel", scrape.series("trine_build_info")[0]?.labels.kernel ?? "?"],
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
