import type { EngineKernel } from "../engine/kernels/kernel.js";
import { type KernelPreference, selectKernel } from "../engine/kernels/select.js";
import { UsageError } from "./usage-error.js";

const PREFERENCES = ["auto", "reference", "wasm", "native"] as const;

/** Reads TRINE_KERNEL (auto|reference|wasm|native; default auto), validated. */
export function kernelPreference(value = process.env.TRINE_KERNEL): KernelPreference {
  const preference = (value ?? "auto").trim().toLowerCase();
  if (!(PREFERENCES as readonly string[]).includes(preference)) {
    throw new UsageError(`TRINE_KERNEL must be one of ${PREFERENCES.join(", ")}, got "${value}"`);
  }
  return preference as KernelPreference;
}

/** The kernel for a CLI command: the fastest that passes its self-test, or the one TRINE_KERNEL forces. */
export async function chooseKernel(): Promise<EngineKernel> {
  const log =
    process.env.TRINE_LOG_LEVEL === "debug" ? (m: string) => process.stderr.write(`${m}\n`) : undefined;
  return selectKernel(kernelPreference(), log);
}
