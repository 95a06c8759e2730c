import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The playground's build: plain TypeScript and CSS, no framework, bundled into dist/ui, which
 * src/server/playground.ts serves. No inline script (the page's Content-Security-Policy forbids
 * one), so the module-preload polyfill, which Vite would inline, is off: every browser the page
 * targets has module preloading.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/ui", import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    target: "es2022",
    reportCompressedSize: false,
  },
});
