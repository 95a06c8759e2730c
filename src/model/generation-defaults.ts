import type { SamplingParams } from "../engine/sampling/index.js";

/**
 * Sampling defaults a model directory recommends in generation_config.json (the Hugging Face
 * convention); a request's own values win. Only fields with the same meaning as ours are taken.
 */
export function generationDefaults(generationConfig: Record<string, unknown>): SamplingParams {
  const defaults: SamplingParams = {};
  const number = (key: string) =>
    typeof generationConfig[key] === "number" ? (generationConfig[key] as number) : undefined;
  if (generationConfig.do_sample === false) defaults.temperature = 0;
  else if (number("temperature") !== undefined) defaults.temperature = number("temperature");
  if (number("top_p") !== undefined) defaults.top_p = number("top_p");
  if (number("top_k") !== undefined) defaults.top_k = number("top_k");
  if (number("min_p") !== undefined) defaults.min_p = number("min_p");
  if (number("repetition_penalty") !== undefined) defaults.repetition_penalty = number("repetition_penalty");
  return defaults;
}
