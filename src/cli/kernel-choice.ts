import type { EngineKernel } from "../engine/kernels/kernel.js";
import { type KernelPreference, selectKernel } from "../engine/kernels/select.js";
import { ConfigError, kernelFromEnvironment } from "../server/config.js";
import { UsageError } from "./usage-error.js";

/** TRINE_KERNEL, read as `trine serve` reads it (the settings table). */
export function kernelPreference(
  env: Readonly<Record<string, string | undefined>> = process.env,
): KernelPreference {
  try {
    return kernelFromEnvironment(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** The kernel for a CLI command: the fastest that passes its self-test, or the one TRINE_KERNEL forces. */
export async function chooseKernel(): Promise<EngineKernel> {
  const log =
    process.env.TRINE_LOG_LEVEL === "debug" ? (m: string) => process.stderr.write(`${m}\n`) : undefined;
  return selectKernel(kernelPreference(), log);
}
