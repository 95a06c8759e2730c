// Writes the small random-weight test model (byte-level tokenizer, vocabulary 1000) into a new
// temporary directory and prints its path: what the container smoke test serves while the
// repository ships no default model.
import { chmodSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { makeRandomTestModel } from "../helpers/random-model.js";

const dir = makeRandomTestModel();
// mkdtemp makes the directory private to root; the container runs as the unprivileged `node`.
chmodSync(dir, 0o755);
for (const file of readdirSync(dir)) chmodSync(join(dir, file), 0o644);
process.stdout.write(`${dir}\n`);
