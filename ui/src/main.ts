import "./style.css";
import { ApiError, apiKey, setApiKey } from "./api.js";
import { ChatMode } from "./chat.js";
import { CompletionMode } from "./completion.js";
import { byId, h } from "./dom.js";
import { JsonMode } from "./json-mode.js";
import type { Mode, ModeContext } from "./mode.js";
import { ResponsesMode } from "./responses.js";
import { loadModelCard, startMetricsPanel } from "./server-panel.js";
import { SamplingSettings } from "./settings.js";

/** Wires the page: the key field, the model card and defaults, the modes, the live panel. */

const settings = new SamplingSettings(byId("sampling"));
const modelCard = byId("model-card");
const modelName = byId("model-name");
let modelId: Promise<string> | undefined;
/** How soon to ask again while the model loads (the server answers 503 meanwhile). */
const LOADING_RETRY_MS = 2000;

/** The model's id, card and defaults, loaded once the API answers (again after a new key). */
function loadModel(): Promise<string> {
  modelId ??= loadModelCard(modelCard).then(
    (details) => {
      modelName.textContent = details.id;
      settings.prefill(details.generation_defaults);
      return details.id;
    },
    (error: unknown) => {
      modelId = undefined;
      const advice = error instanceof ApiError ? error.advice : String(error);
      modelCard.replaceChildren(h("p", { class: "error", role: "alert" }, advice));
      // 503: the model is still loading (the server listens first); ask again shortly.
      if (error instanceof ApiError && error.status === 503)
        setTimeout(() => loadModel().catch(() => {}), LOADING_RETRY_MS);
      throw error;
    },
  );
  return modelId;
}

const context: ModeContext = { settings, modelId: loadModel };
const modes: Mode[] = [
  new ChatMode(context),
  new CompletionMode(context),
  new JsonMode(context),
  new ResponsesMode(context),
];

const switcher = byId("modes");
const workspace = byId("workspace");
function show(mode: Mode): void {
  for (const other of modes) if (other !== mode) other.stop();
  workspace.replaceChildren(mode.element);
}
for (const [index, mode] of modes.entries()) {
  const id = `mode-${mode.id}`;
  const radio = h("input", {
    type: "radio",
    name: "mode",
    id,
    value: mode.id,
    checked: index === 0,
    onchange: () => show(mode),
  });
  switcher.append(h("span", { class: "mode-choice" }, radio, h("label", { for: id }, mode.label)));
}
show(modes[0]);

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") for (const mode of modes) mode.stop();
});

const keyInput = byId<HTMLInputElement>("api-key");
keyInput.value = apiKey();
byId("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim());
  modelId = undefined;
  loadModel().catch(() => {});
});

startMetricsPanel(byId<HTMLDListElement>("metrics"), byId("metrics-status"));
loadModel().catch(() => {});
