// Compiles the WebAssembly kernels (wasm/*.ts, AssemblyScript) to dist/wasm/*.wasm.
//
//   node wasm/build.mjs            build both flavours (npm run build:wasm)
//   node wasm/build.mjs --if-stale build only when a .wasm is missing or older than its sources
//                                  (what the tests call, so that `npm test` works on a clean clone)
//
// The modules import their memory (env.memory, shared, up to 4 GiB) rather than defining it, so
// that one WebAssembly.Memory can hold a model's weights for every worker thread; they export
// `ternaryMatmul` and `workspaceBytes` and nothing else. They must have no data segments: each
// instantiation would rewrite them into the shared memory, over the heap header at address 0.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const sourceDir = fileURLToPath(new URL(".", import.meta.url));
const outDir = fileURLToPath(new URL("../dist/wasm/", import.meta.url));

/** Kernel flavour -> entry file and the WebAssembly features it needs beyond SIMD128. */
const FLAVOURS = [
  { name: "ternary-simd128", features: ["simd", "threads"] },
  { name: "ternary-relaxed-simd", features: ["simd", "threads", "relaxed-simd"] },
];

const COMMON_FLAGS = [
  "-O3",
  "--noAssert",
  "--runtime",
  "stub",
  "--use",
  "abort=",
  "--importMemory",
  "--noExportMemory",
  "--sharedMemory",
  "--initialMemory",
  "1",
  "--maximumMemory",
  "65536",
];

function newestSourceTime() {
  const files = readdirSync(sourceDir).filter((f) => f.endsWith(".ts") || f === "build.mjs");
  return Math.max(...files.map((f) => statSync(join(sourceDir, f)).mtimeMs));
}

function isStale(outFile, sourcesTime) {
  return !existsSync(outFile) || statSync(outFile).mtimeMs < sourcesTime;
}

/** Section ids of a wasm binary (a walk over the section headers, no decoding of their bodies). */
function sectionIds(bytes) {
  const ids = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      size += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    ids.push(id);
    at += size;
  }
  return ids;
}

const DATA_SECTION = 11;
const DATA_COUNT_SECTION = 12;

async function build(flavour) {
  // Imported here: loading the compiler takes a second or two, which --if-stale usually skips.
  const { default: asc } = await import("assemblyscript/asc");
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `${flavour.name}.wasm`);
  // Written beside and renamed over the old file, so a test process reading it never sees half.
  const partFile = `${outFile}.${process.pid}.part`;
  const { error, stderr } = await asc.main(
    [join(sourceDir, `${flavour.name}.ts`), "-o", partFile, ...COMMON_FLAGS, "--enable", flavour.features.join(",")],
    {},
  );
  if (error) throw new Error(`asc failed for ${flavour.name}: ${error.message}\n${stderr.toString()}`);
  const ids = sectionIds(readFileSync(partFile));
  if (ids.includes(DATA_SECTION) || ids.includes(DATA_COUNT_SECTION)) {
    throw new Error(`${flavour.name}.wasm has a data segment; the kernels must keep no static data`);
  }
  renameSync(partFile, outFile);
  return outFile;
}

const ifStale = process.argv.includes("--if-stale");
const sourcesTime = newestSourceTime();
for (const flavour of FLAVOURS) {
  const outFile = join(outDir, `${flavour.name}.wasm`);
  if (ifStale && !isStale(outFile, sourcesTime)) continue;
  await build(flavour);
  console.log(`wasm: built ${outFile}`);
}
