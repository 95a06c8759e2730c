import { createHash } from "node:crypto";
import { createReadStream, readdirSync, statSync } from "node:fs";
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

async function hashDirectory(dir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    hash.update(`${name}\0`);
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
      hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}
