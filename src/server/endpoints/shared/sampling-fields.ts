import type { SamplingParams } from "../../../engine/sampling/index.js";
import type { SamplingFields } from "./schema.js";

/** The sampling values of a request's shared fields, as it sent them (null = the default). */
export function samplingOf(body: SamplingFields): SamplingParams {
  return {
    temperature: body.temperature,
    top_p: body.top_p,
    top_k: body.top_k,
    min_p: body.min_p,
    repetition_penalty: body.repetition_penalty,
    presence_penalty: body.presence_penalty,
    frequency_penalty: body.frequency_penalty,
    logit_bias: body.logit_bias,
    seed: body.seed,
  };
}

/** `stop` as a list: OpenAI accepts one string or several. */
export function stopStrings(stop: string | string[] | null | undefined): string[] {
  return typeof stop === "string" ? [stop] : (stop ?? []);
}
