import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EngineKernel } from "../../src/engine/kernels/kernel.js";
import { nativeKernelPaths } from "../../src/engine/kernels/native.js";
import { referenceKernel } from "../../src/engine/kernels/reference.js";
import { KernelUnavailableError, selectKernel } from "../../src/engine/kernels/select.js";
import { selfTestKernel } from "../../src/engine/kernels/self-test.js";

const nativePaths = nativeKernelPaths();
const wasmPresent = existsSync(new URL("../../src/engine/kernels/wasm.ts", import.meta.url));

function logged() {
  const lines: string[] = [];
  return { lines, log: (line: string) => lines.push(line) };
}

describe("selectKernel", () => {
  it("picks the fastest kernel that passes its self-test, and says so", async () => {
    const { lines, log } = logged();
    const kernel = await selectKernel("auto", log);
    if (nativePaths.length > 0) expect(kernel.name).toBe(`native-${nativePaths[0]}`);
    expect(lines.at(-1)).toBe(`ternary kernel: ${kernel.name} (auto)`);
  });

  it("returns the reference kernel when asked for it", async () => {
    expect(await selectKernel("reference")).toBe(referenceKernel);
  });

  it.skipIf(nativePaths.length === 0)("returns the native kernel when asked for it", async () => {
    const { lines, log } = logged();
    const kernel = await selectKernel("native", log);
    expect(kernel.name).toBe(`native-${nativePaths[0]}`);
    expect(lines).toEqual([`ternary kernel: ${kernel.name} (requested native)`]);
  });

  it.runIf(nativePaths.length === 0)("fails clearly when native is asked for but not built", async () => {
    await expect(selectKernel("native")).rejects.toThrow(/native kernel unavailable.*build:native/);
  });

  it("returns the WASM kernel when asked for it, or fails saying why", async () => {
    if (wasmPresent) {
      expect((await selectKernel("wasm")).name).toMatch(/^wasm/);
    } else {
      await expect(selectKernel("wasm")).rejects.toThrow(KernelUnavailableError);
    }
  });
});

describe("selfTestKernel", () => {
  it("passes the reference kernel", () => {
    expect(selfTestKernel(referenceKernel)).toBeUndefined();
  });

  it("catches a kernel that is wrong only at the int8 extremes", () => {
    // Treats -128 as -127: right on most inputs, wrong where a real overflow bug would be.
    const saturating: EngineKernel = {
      name: "saturating",
      ternaryMatmul(w, activations, batch, accumulators) {
        referenceKernel.ternaryMatmul(
          w,
          activations.map((x) => Math.max(x, -127)),
          batch,
          accumulators,
        );
      },
    };
    expect(selfTestKernel(saturating)).toMatch(/accumulator \d+ is -?\d+, reference gives -?\d+/);
  });
});
