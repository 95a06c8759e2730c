import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { type WasmModule, webAssembly } from "./wasm-api.js";

/**
 * Finding and compiling the kernel modules that wasm/build.mjs writes to dist/wasm/.
 *
 * Two flavours: baseline SIMD128, which any Node >= 16.4 runs, and relaxed SIMD, which Node 20
 * (V8 11.3) compiles only behind --experimental-wasm-relaxed-simd. That flag can be set at run
 * time before compiling, so `compileWasmKernel` turns it on when the module fails to validate
 * without it; whether the engine then computes correctly is the caller's self-test (wasm.ts).
 */
export type WasmFlavour = "wasm-simd128" | "wasm-relaxed-simd";

const FILES: Record<WasmFlavour, string> = {
  "wasm-simd128": "ternary-simd128.wasm",
  "wasm-relaxed-simd": "ternary-relaxed-simd.wasm",
};

const RELAXED_SIMD_FLAG = "experimental-wasm-relaxed-simd";
/** Whether this module turned the flag on (so that withdrawRelaxedSimd may turn it off). */
let relaxedFlagSetHere = false;

export class WasmKernelUnavailableError extends Error {
  override readonly name = "WasmKernelUnavailableError";
}

/**
 * This file is src/engine/kernels/wasm-module.ts under vitest and
 * dist/src/engine/kernels/wasm-module.js once built (tsconfig rootDir is the repository), and the
 * .wasm files are in dist/wasm/ in both cases.
 */
const SEARCH_DIRS = [
  new URL("../../../wasm/", import.meta.url),
  new URL("../../../dist/wasm/", import.meta.url),
];

/** Path of a flavour's .wasm file, or undefined when it has not been built. */
export function wasmKernelFile(flavour: WasmFlavour): string | undefined {
  for (const dir of SEARCH_DIRS) {
    const path = fileURLToPath(new URL(FILES[flavour], dir));
    if (existsSync(path)) return path;
  }
  return undefined;
}

const compiled = new Map<WasmFlavour, Promise<WasmModule>>();

/**
 * The compiled module of a flavour, once per thread (a Module could also be posted to workers,
 * but compiling 2-3 KB takes milliseconds). Throws WasmKernelUnavailableError when the file is
 * missing or this engine cannot compile it.
 */
export function compileWasmKernel(flavour: WasmFlavour): Promise<WasmModule> {
  let module = compiled.get(flavour);
  if (!module) {
    module = compile(flavour);
    compiled.set(flavour, module);
    // A failure is not cached: a later call after `npm run build:wasm` may succeed.
    module.catch(() => compiled.delete(flavour));
  }
  return module;
}

async function compile(flavour: WasmFlavour): Promise<WasmModule> {
  const path = wasmKernelFile(flavour);
  if (!path) {
    throw new WasmKernelUnavailableError(`${FILES[flavour]} is not built: run \`npm run build:wasm\``);
  }
  const bytes = await readFile(path);
  if (!webAssembly.validate(bytes) && flavour === "wasm-relaxed-simd") {
    setFlagsFromString(`--${RELAXED_SIMD_FLAG}`);
    relaxedFlagSetHere = true;
  }
  if (!webAssembly.validate(bytes)) {
    throw new WasmKernelUnavailableError(`this JavaScript engine cannot compile ${FILES[flavour]}`);
  }
  return webAssembly.compile(bytes);
}

/**
 * After a failed self-test: forget the relaxed module and turn the V8 flag back off if this
 * module turned it on, so that the process runs as if relaxed SIMD had never been tried.
 */
export function withdrawRelaxedSimd(): void {
  compiled.delete("wasm-relaxed-simd");
  if (relaxedFlagSetHere) {
    setFlagsFromString(`--no-${RELAXED_SIMD_FLAG}`);
    relaxedFlagSetHere = false;
  }
}
