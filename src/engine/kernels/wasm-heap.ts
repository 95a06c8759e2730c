import { randomFillSync } from "node:crypto";
import { type WasmMemory, webAssembly } from "./wasm-api.js";

/**
 * The linear memory the WebAssembly kernels run in, and the one allocator over it.
 *
 * WebAssembly code reads only its own linear memory: it cannot see a SharedArrayBuffer that JS
 * allocated, so the packed weights have to live in that memory. A heap is a shared
 * WebAssembly.Memory (its buffer is a SharedArrayBuffer) with a bump allocator whose pointer
 * sits in the memory itself, so every thread that attaches to the same memory allocates from it
 * safely. Weights allocated here once (by the model loader, before the workers start) serve every
 * worker without a copy; weights that were not are copied into the worker's heap on first use
 * (see wasm.ts). Nothing is ever freed: weights live as long as the model, and scratch grows to
 * the largest call and stays.
 *
 * Header (bytes 0..63): a random 16-byte tag at 0, a probe counter at 16, the bump pointer at 20.
 */
const TAG_BYTES = 16;
const PROBE_WORD = 4;
const BUMP_WORD = 5;
const HEADER_BYTES = 64;
const PAGE_BYTES = 65536;
/** 4 GiB, wasm32's limit and the maximum the modules declare (wasm/build.mjs). */
export const WASM_HEAP_MAX_PAGES = 65536;
/** Allocations start on a cache line, which also satisfies every vector load. */
const ALIGNMENT = 64;

export class WasmHeapFullError extends Error {
  override readonly name = "WasmHeapFullError";
}

export class WasmHeap {
  private readonly words: Uint32Array;
  private readonly aliasing = new WeakMap<SharedArrayBuffer, boolean>();

  private constructor(readonly memory: WasmMemory) {
    // Views of a shared memory's buffer stay valid after it grows, and the header never moves.
    this.words = new Uint32Array(memory.buffer, 0, HEADER_BYTES / 4);
  }

  /** A new heap; `reserveBytes` sizes the first allocation of memory (it grows as needed). */
  static create(reserveBytes = 0): WasmHeap {
    const initial = Math.max(1, Math.ceil((HEADER_BYTES + reserveBytes) / PAGE_BYTES));
    const memory = new webAssembly.Memory({ initial, maximum: WASM_HEAP_MAX_PAGES, shared: true });
    const heap = new WasmHeap(memory);
    randomFillSync(new Uint8Array(memory.buffer, 0, TAG_BYTES));
    Atomics.store(heap.words, BUMP_WORD, HEADER_BYTES);
    return heap;
  }

  /** The heap in a memory made by WasmHeap.create, e.g. in a worker that received `memory`. */
  static attach(memory: WasmMemory): WasmHeap {
    if (!(memory.buffer instanceof SharedArrayBuffer)) throw new TypeError("a WasmHeap's memory is shared");
    const heap = new WasmHeap(memory);
    if (Atomics.load(heap.words, BUMP_WORD) < HEADER_BYTES) {
      throw new TypeError("this WebAssembly.Memory was not created by WasmHeap.create");
    }
    return heap;
  }

  /** The memory's current buffer (it is replaced, not detached, when any thread grows it). */
  get buffer(): SharedArrayBuffer {
    return this.memory.buffer as SharedArrayBuffer;
  }

  /** Reserves `byteLength` bytes (zeroed, 64-byte aligned) and returns their address. */
  allocate(byteLength: number): number {
    const limit = WASM_HEAP_MAX_PAGES * PAGE_BYTES;
    for (;;) {
      const start = Atomics.load(this.words, BUMP_WORD);
      const address = Math.ceil(start / ALIGNMENT) * ALIGNMENT;
      const end = address + byteLength;
      // The bump pointer is a u32: the last page stays unused so that `end` always fits.
      if (end > limit - PAGE_BYTES) {
        throw new WasmHeapFullError(`WebAssembly heap full: ${byteLength} more bytes would pass 4 GiB`);
      }
      if (Atomics.compareExchange(this.words, BUMP_WORD, start, end) === start) {
        this.ensureSize(end);
        return address;
      }
    }
  }

  /** `allocate` as a Uint8Array, for a loader to read weights into. */
  allocateBytes(byteLength: number): Uint8Array {
    const address = this.allocate(byteLength);
    // Read the buffer after allocating: the allocation may have grown the memory.
    return new Uint8Array(this.buffer, address, byteLength);
  }

  /**
   * Whether `view` lies in this heap's memory, i.e. its address is view.byteOffset. True for a
   * view on any buffer of this memory, in this thread or another, before or after growth.
   */
  contains(view: ArrayBufferView): boolean {
    const buffer = view.buffer;
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) return false;
    let known = this.aliasing.get(buffer);
    if (known === undefined) {
      known = this.aliases(buffer);
      this.aliasing.set(buffer, known);
    }
    return known;
  }

  private aliases(buffer: SharedArrayBuffer): boolean {
    // A buffer is this memory when it carries the random tag and sees a write made just now
    // through the memory: the tag rules out unrelated buffers, the write rules out copies.
    const theirs = new Uint32Array(buffer, 0, HEADER_BYTES / 4);
    for (let i = 0; i < TAG_BYTES / 4; i++) {
      if (Atomics.load(theirs, i) !== Atomics.load(this.words, i)) return false;
    }
    // The counter only ever grows, so other threads' probes cannot hide ours.
    const ticket = Atomics.add(this.words, PROBE_WORD, 1) + 1;
    return Atomics.load(theirs, PROBE_WORD) >= ticket;
  }

  private ensureSize(end: number): void {
    for (;;) {
      const have = this.memory.buffer.byteLength;
      if (have >= end) return;
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
      } catch (error) {
        // Another thread grew it meanwhile past what we asked; only the size matters.
        if (this.memory.buffer.byteLength >= end) return;
        throw new WasmHeapFullError(
          `WebAssembly heap cannot grow to ${end} bytes: ${(error as Error).message}`,
        );
      }
    }
  }
}
