import { BLOCK_COLUMNS, type PackedTernary } from "../ternary.js";
import type { EngineKernel } from "./kernel.js";
import { selfTestKernel } from "./self-test.js";
import { type WasmModule, webAssembly } from "./wasm-api.js";
import { WasmHeap } from "./wasm-heap.js";
import { compileWasmKernel, type WasmFlavour, withdrawRelaxedSimd } from "./wasm-module.js";

/**
 * The WebAssembly SIMD kernels (sources in wasm/, built by `npm run build:wasm`): a EngineKernel
 * over a module instance and the heap it runs in. See docs/KERNELS-wasm.md for figures.
 *
 * Memory: the module reads only its heap (wasm-heap.ts). Weights the model loader allocated in
 * the heap passed as `options.heap` are used in place: one copy serves every worker. Any other
 * PackedTernary is copied into this kernel's heap on first use and reused afterwards (keyed by
 * its buffer and offset), which costs one extra copy of the packed weights per worker, e.g.
 * 85 MB per worker for MMfreeLM-370M (341M ternary weights at 2 bits). Either way weights must not
 * change after a kernel first sees them. Activations are copied into a scratch region and the
 * accumulators out of it on every call: batch * (paddedCols + 4 * rows) bytes, small beside the
 * rows * paddedCols / 4 bytes of weights the call reads.
 */

/** The i32 bound of the SIMD128 path: 64 * |sum(c * x)| <= 16384 * paddedCols < 2^31. */
export const WASM_MAX_PADDED_COLUMNS = 131072;

export interface WasmKernelOptions {
  /**
   * The heap to run in. Pass the heap the model's weights were allocated in (WasmHeap.create in
   * the main thread, WasmHeap.attach(memory) in each worker) to use them without copying.
   * Default: a new heap for this kernel alone.
   */
  heap?: WasmHeap;
  /** Try relaxed SIMD first (used only if it matches the reference at start-up). Default true. */
  relaxedSimd?: boolean;
}

/** What wasm/ternary-*.ts export. */
interface KernelExports {
  ternaryMatmul(
    codes: number,
    rows: number,
    paddedCols: number,
    activations: number,
    batch: number,
    out: number,
    workspace: number,
  ): void;
  workspaceBytes(batch: number, paddedCols: number): number;
}

/** Where a PackedTernary's codes were copied to in the heap. */
interface HeapCopy {
  address: number;
  byteLength: number;
}

function lineAligned(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

class WasmKernel implements EngineKernel {
  private readonly exports: KernelExports;
  /** Copies of weights that live outside the heap: buffer -> byteOffset -> the copy. */
  private readonly copies = new WeakMap<ArrayBufferLike, Map<number, HeapCopy>>();
  private scratchAddress = 0;
  private scratchBytes = 0;
  private bytes: Int8Array;
  private words: Int32Array;

  constructor(
    readonly name: WasmFlavour,
    module: WasmModule,
    private readonly heap: WasmHeap,
  ) {
    const instance = new webAssembly.Instance(module, { env: { memory: heap.memory } });
    this.exports = instance.exports as unknown as KernelExports;
    this.bytes = new Int8Array(heap.buffer);
    this.words = new Int32Array(heap.buffer);
  }

  ternaryMatmul(w: PackedTernary, activations: Int8Array, batch: number, accumulators: Int32Array): void {
    checkArguments(w, activations, batch, accumulators);
    if (batch === 0 || w.rows === 0) return;
    const codes = this.codesAddress(w);
    const activationBytes = batch * w.paddedCols;
    const outputCount = batch * w.rows;
    const x = this.scratch(
      lineAligned(activationBytes) +
        lineAligned(4 * outputCount) +
        this.exports.workspaceBytes(batch, w.paddedCols),
    );
    const out = x + lineAligned(activationBytes);
    const workspace = out + lineAligned(4 * outputCount);
    this.refreshViews();
    this.bytes.set(activations.subarray(0, activationBytes), x);
    this.exports.ternaryMatmul(codes, w.rows, w.paddedCols, x, batch, out, workspace);
    accumulators.set(this.words.subarray(out / 4, out / 4 + outputCount));
  }

  /** Where the weights are in the heap: in place when allocated there, else a copy made once. */
  private codesAddress(w: PackedTernary): number {
    if (this.heap.contains(w.codes)) return w.codes.byteOffset;
    const byteLength = (w.rows * w.paddedCols) / 4;
    let byOffset = this.copies.get(w.codes.buffer);
    if (!byOffset) {
      byOffset = new Map();
      this.copies.set(w.codes.buffer, byOffset);
    }
    const known = byOffset.get(w.codes.byteOffset);
    if (known && known.byteLength === byteLength) return known.address;
    const address = this.heap.allocate(byteLength);
    this.refreshViews();
    new Uint8Array(this.bytes.buffer, address, byteLength).set(w.codes.subarray(0, byteLength));
    byOffset.set(w.codes.byteOffset, { address, byteLength });
    return address;
  }

  /** The scratch region, grown (by doubling, the old one abandoned) to at least `bytes`. */
  private scratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      this.scratchBytes = Math.max(bytes, 2 * this.scratchBytes);
      this.scratchAddress = this.heap.allocate(this.scratchBytes);
    }
    return this.scratchAddress;
  }

  /** Any thread's allocation may have grown the memory and so replaced its buffer. */
  private refreshViews(): void {
    const buffer = this.heap.buffer;
    if (this.bytes.buffer !== buffer) {
      this.bytes = new Int8Array(buffer);
      this.words = new Int32Array(buffer);
    }
  }
}

function checkArguments(
  w: PackedTernary,
  activations: Int8Array,
  batch: number,
  accumulators: Int32Array,
): void {
  if (w.paddedCols % BLOCK_COLUMNS !== 0 || w.paddedCols < w.cols || w.paddedCols > WASM_MAX_PADDED_COLUMNS) {
    throw new RangeError(
      `wasm kernel: paddedCols ${w.paddedCols} must be a multiple of 256 in [cols, ${WASM_MAX_PADDED_COLUMNS}]`,
    );
  }
  if (w.codes.length < (w.rows * w.paddedCols) / 4) {
    throw new RangeError(
      `wasm kernel: ${w.codes.length} code bytes, ${(w.rows * w.paddedCols) / 4} expected`,
    );
  }
  if (!Number.isInteger(batch) || batch < 0) throw new RangeError(`wasm kernel: batch ${batch}`);
  if (activations.length < batch * w.paddedCols) {
    throw new RangeError(
      `wasm kernel: ${activations.length} activations for batch ${batch} x ${w.paddedCols}`,
    );
  }
  if (accumulators.length < batch * w.rows) {
    throw new RangeError(`wasm kernel: ${accumulators.length} accumulators for batch ${batch} x ${w.rows}`);
  }
}

/** One heap per thread for start-up checks, so that the test weights stay out of shared heaps. */
let selfTestHeap: WasmHeap | undefined;

/**
 * A WebAssembly kernel, asynchronously (the module is read and compiled off the main path):
 * "wasm-relaxed-simd" when this engine compiles it and it matches the reference on a start-up
 * check (the V8 flag it needs is turned back off otherwise), else "wasm-simd128". Throws
 * WasmKernelUnavailableError (wasm-module.ts) when the modules are not built
 * (`npm run build:wasm`).
 */
export async function createWasmKernel(options: WasmKernelOptions = {}): Promise<EngineKernel> {
  const heap = options.heap ?? WasmHeap.create();
  if (options.relaxedSimd ?? true) {
    try {
      const module = await compileWasmKernel("wasm-relaxed-simd");
      selfTestHeap ??= WasmHeap.create();
      if (selfTestKernel(new WasmKernel("wasm-relaxed-simd", module, selfTestHeap)) === undefined) {
        return new WasmKernel("wasm-relaxed-simd", module, heap);
      }
      withdrawRelaxedSimd();
    } catch {
      // Not built, or this engine cannot compile it: the SIMD128 flavour below still may.
      withdrawRelaxedSimd();
    }
  }
  return new WasmKernel("wasm-simd128", await compileWasmKernel("wasm-simd128"), heap);
}
