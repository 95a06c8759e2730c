import type { Command } from "commander";
import { convertModel } from "../../model/convert.js";
import type { EmbeddingDtype } from "../../model/packed-layout.js";
import { UsageError } from "../usage-error.js";

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .description("ternarise a Hugging Face checkpoint once into a packed Trine model directory")
    .argument("<hf_dir>", "Hugging Face checkpoint directory (config.json, model.safetensors or shards)")
    .argument("<out_dir>", "directory to write the packed model to")
    .option("--embedding <dtype>", "store the embedding as F32, F16 or BF16 (default: as in the checkpoint)")
    .action((hfDir: string, outDir: string, options: { embedding?: string }) => {
      const embeddingDtype = options.embedding?.toUpperCase();
      if (
        embeddingDtype !== undefined &&
        !["F32", "F16"].includes(embeddingDtype) &&
        embeddingDtype !== "BF16"
      ) {
        throw new UsageError(`--embedding must be F32, F16 or BF16, got ${options.embedding}`);
      }
      const started = performance.now();
      const result = convertModel(hfDir, outDir, {
        embeddingDtype: embeddingDtype as EmbeddingDtype | undefined,
        onTensor: (name, done, total) => {
          if (process.stderr.isTTY)
            process.stderr.write(`\r${done}/${total} ${name.padEnd(60).slice(0, 60)}`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write("\n");
      const seconds = (performance.now() - started) / 1000;
      const peakMiB = process.resourceUsage().maxRSS / 1024;
      process.stdout.write(
        `${JSON.stringify({ out_dir: outDir, packed_bytes: result.packedBytes, tensors: result.tensors, seconds: +seconds.toFixed(2), peak_rss_mib: Math.round(peakMiB) })}\n`,
      );
    });
}
