// Runs batch-worker.ts from source (tests, `node --import tsx`): a worker thread does not
// take the TypeScript loader from its parent or from execArgv on Node 20, so it registers tsx
// itself. The built server loads the compiled batch-worker.js directly and never uses this.
import { register } from "tsx/esm/api";

register();
const { default: generate } = await import("./batch-worker.ts");
export default generate;
