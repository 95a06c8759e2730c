import type { RebuildReason } from "../../../store/store-metrics.js";
import type { StoredResponse } from "../../../store/stored-response.js";

/**
 * Whether a continued conversation may start from its stored state. The prompt is always the
 * whole conversation re-rendered (so the answer is the one a client sending the whole
 * conversation gets); the state only saves prefilling the part it has consumed, and only when
 * that part is, token for token, the start of this prompt and the state is this server's.
 */
export function storedStart(
  previous: { record: StoredResponse; stateRejected: boolean },
  promptIds: readonly number[],
  fingerprint: string,
  instructions: string | null,
): { tokens: number; values: Float32Array } | RebuildReason {
  const { state } = previous.record;
  if (previous.stateRejected) return "corrupt";
  if (!state) return "no_state";
  if (state.fingerprint !== fingerprint) return "foreign";
  const consumed = state.tokens;
  const covers = consumed.length < promptIds.length && consumed.every((id, i) => promptIds[i] === id);
  if (covers) return { tokens: consumed.length, values: state.values };
  const storedInstructions = (previous.record.response.instructions as string | null | undefined) ?? null;
  return storedInstructions !== instructions ? "instructions" : "prefix";
}
