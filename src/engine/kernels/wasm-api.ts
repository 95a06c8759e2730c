/**
 * The part of the WebAssembly JavaScript API the kernels use. TypeScript declares that API only in
 * lib.dom, which this Node project does not load, so it is typed here and read from globalThis
 * (a local type, not a global declaration, so it cannot clash should lib.dom ever be added).
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Adds `pages` 64 KiB pages; returns the previous size in pages. */
  grow(pages: number): number;
}

/** A compiled module: opaque to JS, and postable to worker threads. */
export type WasmModule = object;

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WebAssemblyNamespace {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}

export const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyNamespace }).WebAssembly;
