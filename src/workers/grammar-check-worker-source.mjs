// Runs grammar-check-worker.ts from source (tests, `node --import tsx`), as batch-worker-source.mjs
// does for the batch worker. The built server loads the compiled grammar-check-worker.js directly.
import { register } from "tsx/esm/api";

register();
const { default: check } = await import("./grammar-check-worker.ts");
export default check;
