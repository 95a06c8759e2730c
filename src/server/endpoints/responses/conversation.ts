import { createHash } from "node:crypto";
import { createReadStream, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RebuildReason } from "../../../store/store-metrics.js";
import type { StoredResponse } from "../../../store/stored-response.js";
import type { ChatTemplate } from "../../chat-template.js";

/**
 * Whether a continued conversation may start from its stored state. The prompt is always the
 * whole conversation re-rendered (so the answer is the one a client sending the whole
 * conversation gets); the state only saves prefilling the part it has consumed, and only when
 * that part is, token for token, the start of this prompt and the state is this server's.
 */
export function storedStart(
  previous: { record: StoredResponse; stateRejected: boolean },
  promptIds: readonly number[],
  fingerprint: string,
  instructions: string | null,
): { tokens: number; values: Float32Array } | RebuildReason {
  const { state } = previous.record;
  if (previous.stateRejected) return "corrupt";
  if (!state) return "no_state";
  if (state.fingerprint !== fingerprint) return "foreign";
  const consumed = state.tokens;
  const covers = consumed.length < promptIds.length && consumed.every((id, i) => promptIds[i] === id);
  if (covers) return { tokens: consumed.length, values: state.values };
  const storedInstructions = (previous.record.response.instructions as string | null | undefined) ?? null;
  return storedInstructions !== instructions ? "instructions" : "prefix";
}

/**
 * What a stored state depends on besides the token ids: every file of the model directory
 * (weights, tokenizer, configs), the chat template as it renders (and its stop strings), and the
 * kernel (fast kernels may round differently from one another). Hashed once per server.
 */
export class Fingerprint {
  private files: Promise<string> | undefined;

  constructor(private readonly modelDir: string) {}

  /** Starts hashing the model's files in the background. */
  warm(): void {
    this.files ??= hashDirectory(this.modelDir);
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
