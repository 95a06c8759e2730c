// Builds the native kernels with node-gyp. `npm install` runs it with --optional: a machine with no
// compiler still installs, and the engine falls back to the WASM or reference kernel. `npm run
// build:native` runs it without, so a failed build is an error there.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const nativeDir = dirname(fileURLToPath(import.meta.url));
const optional = process.argv.includes("--optional");

/** npm's bundled node-gyp: from the lifecycle environment, else beside the running npm/node. */
function nodeGypCommand() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), "../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"),
    join(dirname(process.execPath), "node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"),
  ];
  const script = candidates.find((candidate) => candidate && existsSync(candidate));
  return script ? [process.execPath, script] : ["node-gyp"];
}

// Build against the headers that ship with this Node when they are installed, so no download is
// needed (node-gyp otherwise fetches them from nodejs.org).
const prefix = resolve(dirname(process.execPath), "..");
const localHeaders = existsSync(join(prefix, "include/node/node_api.h")) ? [`--nodedir=${prefix}`] : [];

const [command, ...args] = nodeGypCommand();
const result = spawnSync(command, [...args, "rebuild", ...localHeaders], { cwd: nativeDir, stdio: "inherit" });
if (result.status !== 0) {
  const reason = result.error ? result.error.message : `node-gyp exited with ${result.status}`;
  if (optional) {
    console.warn(`trine: native kernels not built (${reason}); the engine will use the WASM or reference kernel.`);
    process.exit(0);
  }
  console.error(`trine: native kernel build failed (${reason})`);
  process.exit(1);
}
