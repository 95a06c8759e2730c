import { SAMPLING_FIELDS, type SamplingParams } from "../../../engine/sampling/index.js";
import type { SamplingFields } from "./schema.js";

/** The sampling values of a request's shared fields, as it sent them (null = the default). */
export function samplingOf(body: SamplingFields): SamplingParams {
  const fields = body as Record<string, unknown>;
  return Object.fromEntries(SAMPLING_FIELDS.map((name) => [name, fields[name]])) as SamplingParams;
}

/** `stop` as a list: OpenAI accepts one string or several. */
export function stopStrings(stop: string | string[] | null | undefined): string[] {
  return typeof stop === "string" ? [stop] : (stop ?? []);
}
