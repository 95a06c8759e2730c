import type { EngineKernel } from "./kernel.js";
import { createNativeKernel, NativeKernelUnavailableError } from "./native.js";
import { referenceKernel } from "./reference.js";
import { selfTestKernel } from "./self-test.js";

export type KernelKind = "reference" | "wasm" | "native";
export type KernelPreference = "auto" | KernelKind;

/** Fastest first: the order "auto" tries. */
const AUTO_ORDER: readonly KernelKind[] = ["native", "wasm", "reference"];
/** The native addon's plain-C path: ~3 G MAC/s, behind WASM SIMD's ~20-40 (docs/KERNELS.md). */
const PORTABLE_NATIVE = "native-scalar";

export class KernelUnavailableError extends Error {
  override readonly name = "KernelUnavailableError";
}

/** Builds the kernel of one kind, without testing it. Throws KernelUnavailableError. */
export async function loadKernel(kind: KernelKind): Promise<EngineKernel> {
  try {
    switch (kind) {
      case "reference":
        return referenceKernel;
      case "native":
        return createNativeKernel();
      case "wasm": {
        // Imported on demand so that choosing another kernel never compiles the WASM module.
        const { createWasmKernel } = await import("./wasm.js");
        return await createWasmKernel();
      }
    }
  } catch (error) {
    if (error instanceof NativeKernelUnavailableError) throw new KernelUnavailableError(error.message);
    throw new KernelUnavailableError(`${kind} kernel unavailable: ${(error as Error).message}`);
  }
}

async function loadTested(kind: KernelKind): Promise<EngineKernel> {
  const kernel = await loadKernel(kind);
  if (kind === "reference") return kernel;
  const mismatch = selfTestKernel(kernel);
  if (mismatch)
    throw new KernelUnavailableError(`${kernel.name} failed its self-test against reference: ${mismatch}`);
  return kernel;
}

/**
 * The ternary kernel to run: for "auto" the fastest that loads and matches the reference bit for
 * bit on the self-test; for an explicit kind that kernel or a KernelUnavailableError saying why.
 * The caller reads any TRINE_KERNEL setting and passes it as `preference`.
 */
export async function selectKernel(
  preference: KernelPreference = "auto",
  log?: (message: string) => void,
): Promise<EngineKernel> {
  if (preference !== "auto") {
    const kernel = await loadTested(preference);
    log?.(`ternary kernel: ${kernel.name} (requested ${preference})`);
    return kernel;
  }
  // A native build with no vector path (plain C) is slower than WASM SIMD: it waits its turn.
  let portableNative: EngineKernel | undefined;
  for (const kind of AUTO_ORDER) {
    try {
      const kernel = await loadTested(kind);
      if (kernel.name === PORTABLE_NATIVE && kind === "native") {
        portableNative = kernel;
        log?.(`ternary kernel: deferring ${kernel.name}: no vector path on this CPU`);
        continue;
      }
      if (kind === "reference" && portableNative) {
        log?.(`ternary kernel: ${portableNative.name} (auto)`);
        return portableNative;
      }
      log?.(`ternary kernel: ${kernel.name} (auto)`);
      return kernel;
    } catch (error) {
      log?.(`ternary kernel: skipping ${kind}: ${(error as Error).message}`);
    }
  }
  // Unreachable: the reference kernel always loads.
  return referenceKernel;
}
