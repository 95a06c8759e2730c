import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { ChatTemplate } from "./chat-template.js";

/**
 * What a stored state depends on besides the token ids: every file of the model directory
 * (weights, tokenizer, configs), the chat template as it renders (and its stop strings), and the
 * kernel (fast kernels may round differently from one another). Hashed once per server.
 */
export class StateFingerprint {
  private files: Promise<string> | undefined;

  constructor(private readonly modelDir: string) {}

  /** Starts hashing the model's files in the background. */
  warm(): void {
    if (this.files) return;
    this.files = hashDirectory(this.modelDir);
    // Awaited by of(); a directory that cannot be read fails there, not as an unhandled rejection.
    this.files.catch(() => {});
  }

  async of(template: ChatTemplate, kernel: string): Promise<string> {
    this.warm();
    const probe = template.render(
      [
        { role: "system", content: "s" },
        { role: "user", content: "u" },
        { role: "assistant", content: "a" },
        { role: "user", content: "v" },
      ],
      true,
    );
    return createHash("sha256")
      .update(await this.files!)
      .update(JSON.stringify([probe, template.stopStrings, kernel]))
      .digest("hex");
  }
}

/** The bytes hashDirectory reads at a time. */
const HASH_CHUNK_BYTES = 1 << 20;

/**
 * Reads every file through one buffer. A read stream hands out a new 1 MB buffer per chunk, and
 * the hundreds of chunks of a model's weights piled up between collections: ~30 MB of the main
 * thread's malloc heap at start-up, which glibc then kept (~20 MB more resident for the life of
 * the server, bench/worker-memory.ts).
 */
async function hashDirectory(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const chunk = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    hash.update(`${name}\0`);
    const file = await open(path, "r");
    try {
      let read: number;
      do {
        ({ bytesRead: read } = await file.read(chunk, 0, chunk.length, null));
        hash.update(chunk.subarray(0, read));
      } while (read > 0);
    } finally {
      await file.close();
    }
  }
  return hash.digest("hex");
}
