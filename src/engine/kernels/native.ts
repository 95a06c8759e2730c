import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BitLinearWeights, Model } from "../model.js";
import type { PackedTernary } from "../ternary.js";
import type { EngineKernel } from "./kernel.js";

/**
 * The native addon's instruction-set paths, fastest first. The addon picks among them at run time
 * (one binary holds all of them), so a kernel can also be forced down to a slower path for tests.
 */
export const NATIVE_PATHS = ["avx512vnni", "avx2", "neon", "scalar"] as const;
export type NativePath = (typeof NATIVE_PATHS)[number];

/** What native/src/addon.c exports; its elementwise steps take the kernel interface's arguments. */
interface NativeAddon
  extends Required<Pick<EngineKernel, "rmsnorm" | "gatedRecurrence" | "swiGlu" | "samplingWeights">> {
  /** The paths this CPU and build support, fastest first. */
  readonly paths: readonly string[];
  /** Every path's id, the form the matmul calls take it in. */
  readonly pathIds: Readonly<Record<NativePath, number>>;
  ternaryMatmul(
    pathId: number,
    codes: Uint8Array,
    rows: number,
    paddedCols: number,
    activations: Int8Array,
    batch: number,
    accumulators: Int32Array,
  ): void;
  ternaryMatmulScaled(
    pathId: number,
    codes: Uint8Array,
    rows: number,
    paddedCols: number,
    activations: Int8Array,
    batch: number,
    scales: Float32Array,
    outputs: Float32Array,
  ): void;
  bitLinear(
    pathId: number,
    codes: Uint8Array,
    rows: number,
    paddedCols: number,
    cols: number,
    x: Float32Array,
    gain: Float32Array,
    batch: number,
    weightScale: number,
    outputs: Float32Array,
  ): void;
  /** Registers a model's tensors once (layout: registerModel below); returns an opaque handle. */
  createModel(
    hiddenSize: number,
    intermediateSize: number,
    vocabSize: number,
    numLayers: number,
    eps: number,
    tensors: readonly (Float32Array | Uint8Array | null)[],
    shapes: Int32Array,
    weightScales: Float64Array,
  ): NativeModelHandle;
  forwardLayers(
    model: NativeModelHandle,
    pathId: number,
    x: Float32Array,
    rows: number,
    states: readonly Float32Array[],
    sequenceOfRow: Int32Array,
    logitRows: Int32Array,
    wanted: number,
    logits: Float32Array,
  ): void;
  setThreads(threads: number): void;
  threads(): number;
  streamRead(bytes: Uint8Array): number;
  cacheLineOffset(bytes: Uint8Array): number;
  trimHeap(): boolean;
}

/** What createModel returns: pointers into the model's arrays, held by the addon. */
declare const nativeModelBrand: unique symbol;
type NativeModelHandle = { readonly [nativeModelBrand]: true };

/** One handle per model (the addon keeps its arrays alive while the handle lives). */
const modelHandles = new WeakMap<Model, NativeModelHandle>();

/**
 * The model's tensors in the order addon.c's createModel reads them: per layer attnNorm, gNorm,
 * mlpNorm, the lower bound (null for layer 0 or when bounds are off, as forward.ts decides), then
 * codes and gain of i, f, g, o, gate, down; then the final norm and lm_head.
 */
function registerModel(addon: NativeAddon, model: Model): NativeModelHandle {
  const cached = modelHandles.get(model);
  if (cached) return cached;
  const { hiddenSize: d, intermediateSize, vocabSize, numLayers, rmsNormEps, useLowerBound } = model.config;
  const tensors: (Float32Array | Uint8Array | null)[] = [];
  const linears: BitLinearWeights[] = [];
  const addLinear = (linear: BitLinearWeights) => {
    tensors.push(linear.weights.codes, linear.normGain);
    linears.push(linear);
  };
  model.layers.forEach((layer, l) => {
    const bound = l > 0 && useLowerBound ? model.lowerBounds.subarray(l * d, (l + 1) * d) : null;
    tensors.push(layer.attnNorm, layer.gNorm, layer.mlpNorm, bound);
    for (const linear of [layer.iProj, layer.fProj, layer.gProj, layer.oProj, layer.gateProj, layer.downProj])
      addLinear(linear);
  });
  tensors.push(model.finalNorm);
  addLinear(model.lmHead);
  const shapes = Int32Array.from(linears.flatMap(({ weights: w }) => [w.rows, w.cols, w.paddedCols]));
  const scales = Float64Array.from(linears, (linear) => linear.weights.weightScale);
  const handle = addon.createModel(
    d,
    intermediateSize,
    vocabSize,
    numLayers,
    rmsNormEps,
    tensors,
    shapes,
    scales,
  );
  modelHandles.set(model, handle);
  return handle;
}

/** A native kernel, plus the fused variant that applies one scale per activation row. */
export interface NativeKernel extends EngineKernel {
  readonly path: NativePath;
  /** outputs[b * rows + r] = accumulator * scales[b], rounded exactly as a Float32Array store. */
  ternaryMatmulScaled(
    w: PackedTernary,
    activations: Int8Array,
    batch: number,
    scales: Float32Array,
    outputs: Float32Array,
  ): void;
}

export class NativeKernelUnavailableError extends Error {
  override readonly name = "NativeKernelUnavailableError";
}

const ADDON_FILE = join("native", "build", "Release", "trine_native.node");

/** The package root: the nearest directory above this module holding the built addon. */
function findAddonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

let loaded: { addon?: NativeAddon; error?: string } | undefined;

function load(): { addon?: NativeAddon; error?: string } {
  if (loaded) return loaded;
  const path = findAddonPath();
  if (!path) {
    loaded = { error: `${ADDON_FILE} is not built (run \`npm run build:native\`)` };
    return loaded;
  }
  try {
    loaded = { addon: createRequire(import.meta.url)(path) as NativeAddon };
  } catch (error) {
    loaded = { error: `${path} failed to load: ${(error as Error).message}` };
  }
  return loaded;
}

function requireAddon(): NativeAddon {
  const { addon, error } = load();
  if (!addon) throw new NativeKernelUnavailableError(`native kernel unavailable: ${error}`);
  return addon;
}

/** Why the addon cannot be used, or undefined when it loaded. */
export function nativeUnavailableReason(): string | undefined {
  return load().error;
}

/** The paths this CPU and build support, fastest first; empty when the addon is missing. */
export function nativeKernelPaths(): NativePath[] {
  const addon = load().addon;
  return addon ? NATIVE_PATHS.filter((path) => addon.paths.includes(path)) : [];
}

/**
 * The native kernel on `path`, by default the fastest the CPU supports. Throws
 * NativeKernelUnavailableError when the addon is not built or the CPU lacks the path.
 */
export function createNativeKernel(path?: NativePath): NativeKernel {
  const addon = requireAddon();
  const chosen = path ?? nativeKernelPaths()[0];
  if (!chosen || !addon.paths.includes(chosen)) {
    throw new NativeKernelUnavailableError(
      `native kernel path '${path}' is not supported here (supported: ${addon.paths.join(", ")})`,
    );
  }
  const id = addon.pathIds[chosen];
  return {
    name: `native-${chosen}`,
    path: chosen,
    ternaryMatmul(w, activations, batch, accumulators) {
      addon.ternaryMatmul(id, w.codes, w.rows, w.paddedCols, activations, batch, accumulators);
    },
    ternaryMatmulScaled(w, activations, batch, scales, outputs) {
      addon.ternaryMatmulScaled(id, w.codes, w.rows, w.paddedCols, activations, batch, scales, outputs);
    },
    bitLinear(w, normGain, x, rows, y) {
      addon.bitLinear(id, w.codes, w.rows, w.paddedCols, w.cols, x, normGain, rows, w.weightScale, y);
    },
    forwardLayers(model, x, rows, states, sequenceOfRow, logitRows, wanted, logits) {
      const handle = registerModel(addon, model);
      addon.forwardLayers(handle, id, x, rows, states, sequenceOfRow, logitRows, wanted, logits);
    },
    // The elementwise steps have no instruction-set paths: plain C that the compiler vectorises.
    rmsnorm: addon.rmsnorm,
    gatedRecurrence: addon.gatedRecurrence,
    swiGlu: addon.swiGlu,
    samplingWeights: addon.samplingWeights,
  };
}

/**
 * Threads each native call on this JS thread splits its rows across (default 1). Every worker
 * thread that loads the addon has its own pool, so workers x threads should not exceed the cores.
 */
export function setNativeThreads(threads: number): void {
  requireAddon().setThreads(threads);
}

export function nativeThreads(): number {
  return requireAddon().threads();
}

/**
 * Reads every byte of `bytes` once on the native threads, with the widest loads the CPU has, and
 * returns their sum: the benchmark's memory-bandwidth roofline.
 */
export function nativeStreamRead(bytes: Uint8Array): number {
  return requireAddon().streamRead(bytes);
}

/**
 * The address of `bytes[0]` modulo 64. Kernels read weights that start mid cache line ~8% slower
 * (every 64-byte load then spans two lines), and Node's large ArrayBuffers and SharedArrayBuffers
 * start 16 bytes past a line, so a loader that places each matrix at offset
 * `(64 - nativeCacheLineOffset(buffer)) % 64` plus multiples of 64 gets aligned weights.
 */
export function nativeCacheLineOffset(bytes: Uint8Array): number {
  return requireAddon().cacheLineOffset(bytes);
}

/**
 * Gives the C heap's free pages back to the system, in every thread's arena (glibc's malloc_trim);
 * whether any went. A no-op returning false without the addon or off glibc. The server calls it
 * once it has idled (src/scheduler/idle-heap-trim.ts).
 */
export function nativeTrimHeap(): boolean {
  return load().addon?.trimHeap() ?? false;
}
