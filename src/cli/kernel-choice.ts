import type { TernaryKernel } from "../engine/kernels/kernel.js";
import { referenceKernel } from "../engine/kernels/reference.js";

/** The kernel for CLI commands, from TRINE_KERNEL (reference|wasm|native|auto). */
export async function chooseKernel(): Promise<TernaryKernel> {
  return referenceKernel;
}
