import { statSync } from "node:fs";
import type { Command } from "commander";
import { loadModelWeights } from "../../model/model-dir.js";
import { modelSummary } from "../../model/summary.js";

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("show a model's config, parameter counts, bytes per part and share of zero weights")
    .argument("<dir>", "model directory (packed or Hugging Face)")
    .option("--json", "print one JSON object")
    .action((dir: string, options: { json?: boolean }) => {
      const started = performance.now();
      const weights = loadModelWeights(dir);
      const summary = {
        directory: dir,
        format: weights.format,
        ...modelSummary(weights.model),
        load_seconds: +((performance.now() - started) / 1000).toFixed(2),
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      const c = weights.model.config;
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
      const lines = [
        `${dir} (${weights.format === "packed" ? "packed Trine model" : "Hugging Face checkpoint, ternarised at load"})`,
        `  vocab ${c.vocabSize}, hidden ${c.hiddenSize}, layers ${c.numLayers}, intermediate ${c.intermediateSize}, eps ${c.rmsNormEps}, lower bounds ${c.useLowerBound}`,
        `  parameters: ${summary.parameters.total.toLocaleString("en")} (ternary ${summary.parameters.ternary.toLocaleString("en")}, embedding ${summary.parameters.embedding.toLocaleString("en")}, norms and bounds ${summary.parameters.float.toLocaleString("en")})`,
        "  bytes in memory:",
        ...Object.entries(summary.bytes).map(
          ([part, bytes]) => `    ${part.padEnd(22)} ${mib(bytes as number)}`,
        ),
        `  zero weights: ${(summary.zero_share.overall * 100).toFixed(1)}% overall`,
        ...Object.entries(summary.zero_share.by_part).map(
          ([part, share]) => `    ${part.padEnd(22)} ${((share as number) * 100).toFixed(1)}%`,
        ),
        `  recurrent state per sequence: ${summary.state_bytes_per_sequence} bytes`,
        `  loaded in ${summary.load_seconds} s`,
      ];
      if (weights.format === "hf") {
        try {
          lines.push(`  latent checkpoint on disk: ${mib(statSync(weights.views.file).size)}`);
        } catch {
          // Sharded checkpoints have no single file to measure; the parts above still hold.
        }
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
