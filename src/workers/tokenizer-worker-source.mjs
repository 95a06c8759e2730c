// Runs tokenizer-worker.ts from source (tests, `node --import tsx`), as batch-worker-source.mjs
// does for the batch worker. The built server loads the compiled tokenizer-worker.js directly.
import { register } from "tsx/esm/api";

register();
const { default: encode } = await import("./tokenizer-worker.ts");
export default encode;
