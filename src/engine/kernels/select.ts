import { type PackedTernary, packTernary, paddedColumns } from "../ternary.js";
import type { EngineKernel } from "./kernel.js";
import { createNativeKernel, NativeKernelUnavailableError } from "./native.js";
import { referenceKernel } from "./reference.js";

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

/**
 * Shapes for the start-up self-test [rows, cols, batch]: ragged in every dimension (one row, one
 * column, sizes off every multiple of 4, 16, 64 and 256, batches off the 4-row tiles), plus one
 * long row that pushes int16 partial sums in the AVX2 path to their limit.
 */
const SELF_TEST_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [7, 300, 1],
  [13, 517, 5],
  [5, 4100, 3],
  [37, 70, 17],
];

/** Deterministic so that a start-up failure can be reproduced. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomProblem(rows: number, cols: number, batch: number, random: () => number) {
  const ternary = new Int8Array(rows * cols);
  for (let i = 0; i < ternary.length; i++) ternary[i] = Math.floor(random() * 3) - 1;
  const weights: PackedTernary = {
    rows,
    cols,
    paddedCols: paddedColumns(cols),
    codes: packTernary(ternary, rows, cols),
    weightScale: 1,
  };
  // A third of the activations sit at the int8 extremes, where overflow and sign bugs live.
  const activations = new Int8Array(batch * weights.paddedCols);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < cols; c++) {
      const u = random();
      activations[b * weights.paddedCols + c] =
        u < 0.17 ? -128 : u < 0.34 ? 127 : Math.floor(random() * 256) - 128;
    }
  }
  return { weights, activations };
}

/** Compares `kernel` with the reference on the self-test shapes; returns the first mismatch. */
export function selfTestKernel(kernel: EngineKernel): string | undefined {
  const random = mulberry32(0x7269e);
  for (const [rows, cols, batch] of SELF_TEST_SHAPES) {
    const { weights, activations } = randomProblem(rows, cols, batch, random);
    const expected = new Int32Array(batch * rows);
    referenceKernel.ternaryMatmul(weights, activations, batch, expected);
    const actual = new Int32Array(batch * rows).fill(0x5a5a5a5a);
    kernel.ternaryMatmul(weights, activations, batch, actual);
    const at = actual.findIndex((value, i) => value !== expected[i]);
    if (at >= 0) {
      return `${rows}x${cols} batch ${batch}: accumulator ${at} is ${actual[at]}, reference gives ${expected[at]}`;
    }
  }
  return undefined;
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
