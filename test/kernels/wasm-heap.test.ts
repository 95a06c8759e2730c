import { describe, expect, it } from "vitest";
import { webAssembly } from "../../src/engine/kernels/wasm-api.js";
import { WasmHeap } from "../../src/engine/kernels/wasm-heap.js";

/** The allocator and the "is this view in the heap" test that zero-copy weights rely on. */
describe("WasmHeap", () => {
  it("allocates zeroed, cache-line aligned, non-overlapping regions and grows the memory", () => {
    const heap = WasmHeap.create();
    const first = heap.allocate(100);
    const second = heap.allocate(3 * 65536);
    expect(first % 64).toBe(0);
    expect(second % 64).toBe(0);
    expect(second).toBeGreaterThanOrEqual(first + 100);
    expect(heap.buffer.byteLength).toBeGreaterThanOrEqual(second + 3 * 65536);
    expect(new Uint8Array(heap.buffer, second, 3 * 65536).every((b) => b === 0)).toBe(true);
  });

  it("recognises views of its memory, including on buffers from before it grew", () => {
    const heap = WasmHeap.create();
    const early = heap.allocateBytes(10);
    heap.allocate(10 * 65536);
    expect(early.buffer).not.toBe(heap.buffer);
    expect(heap.contains(early)).toBe(true);
    expect(heap.contains(new Uint8Array(heap.buffer, 4096, 8))).toBe(true);
  });

  it("rejects copies of its memory, other shared buffers and other heaps", () => {
    const heap = WasmHeap.create();
    const bytes = heap.allocateBytes(64);
    // A copy carries the same header bytes, tag included, but is not the memory.
    expect(heap.contains(new Uint8Array(heap.buffer.slice(0)))).toBe(false);
    expect(heap.contains(new Uint8Array(new SharedArrayBuffer(1024)))).toBe(false);
    expect(heap.contains(new Uint8Array(64))).toBe(false);
    expect(WasmHeap.create().contains(bytes)).toBe(false);
  });

  it("attaches to a heap's memory and shares its allocator", () => {
    const heap = WasmHeap.create();
    const attached = WasmHeap.attach(heap.memory);
    const a = heap.allocate(1000);
    const b = attached.allocate(1000);
    expect(b).toBeGreaterThanOrEqual(a + 1000);
    expect(attached.contains(heap.allocateBytes(8))).toBe(true);
  });

  it("refuses to attach to a memory it did not set up", () => {
    const memory = new webAssembly.Memory({ initial: 1, maximum: 16, shared: true });
    expect(() => WasmHeap.attach(memory)).toThrow(TypeError);
  });
});
