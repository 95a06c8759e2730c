import type { Command } from "commander";
import { rooflineOf, timeWeightReads, weightSpans } from "../../../bench/roofline.js";
import { measureThroughput } from "../../../bench/throughput.js";
import { measureTimeBreakdown } from "../../../bench/time-breakdown.js";
import { nativeUnavailableReason, setNativeThreads } from "../../engine/kernels/native.js";
import { loadModelWeights } from "../../model/model-dir.js";
import { chooseKernel } from "../kernel-choice.js";
import { UsageError } from "../usage-error.js";

function positiveInteger(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description(
      "measure prefill and decode throughput of a model (greedy, no early stop) and the streaming-read roofline",
    )
    .requiredOption("--model <dir>", "model directory (packed or Hugging Face)")
    .option("--batch <B>", "sequences decoded together", "1")
    .option("--threads <T>", "threads per kernel call (native kernel)", "1")
    .option("--prompt-tokens <P>", "prompt tokens per sequence", "64")
    .option("--gen-tokens <G>", "generated tokens per sequence", "128")
    .option("--breakdown", "also measure time per decode step by part")
    .option("--json", "print one JSON object")
    .action(async (options: Record<string, string | boolean>) => {
      const batch = positiveInteger("batch", options.batch as string);
      const threads = positiveInteger("threads", options.threads as string);
      const promptTokens = positiveInteger("prompt-tokens", options.promptTokens as string);
      const genTokens = positiveInteger("gen-tokens", options.genTokens as string);
      const { model, layout } = loadModelWeights(options.model as string);
      const kernel = await chooseKernel();
      if (threads > 1) {
        if (!kernel.name.startsWith("native"))
          throw new UsageError(`--threads > 1 needs the native kernel (have ${kernel.name})`);
        setNativeThreads(threads);
      }
      // The roofline needs the native streaming read; it is read before and after the run, so
      // that a burst of other work on the machine weighs on both alike.
      const spans = nativeUnavailableReason() === undefined ? weightSpans(model) : undefined;
      const reads = spans ? timeWeightReads(spans, 6).slice(1) : [];
      const throughput = measureThroughput(model, kernel, { batch, promptTokens, genTokens });
      if (spans) reads.push(...timeWeightReads(spans, 5));
      const roofline = spans ? rooflineOf(spans, reads) : undefined;
      const result = {
        ...throughput,
        roofline_tokens_per_s: roofline?.roofline_tokens_per_s ?? null,
        roofline_ratio: roofline ? throughput.decode_tokens_per_s / roofline.roofline_tokens_per_s : null,
        read_gb_per_s: roofline?.read_gb_per_s ?? null,
        weight_stream_bytes: roofline?.weight_stream_bytes ?? null,
        threads,
        kernel: kernel.name,
        weight_bytes: layout.totalBytes,
        ...(options.breakdown ? { breakdown_ms_per_step: measureTimeBreakdown(model, kernel, batch) } : {}),
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      process.stdout.write(
        `${kernel.name}, ${threads} thread(s), batch ${batch}: prefill ${result.prefill_tokens_per_s.toFixed(0)} tokens/s, ` +
          `decode ${result.decode_tokens_per_s.toFixed(1)} tokens/s (${result.decode_ms_per_step.toFixed(2)} ms/step)\n`,
      );
      if (roofline) {
        process.stdout.write(
          `roofline ${roofline.roofline_tokens_per_s.toFixed(1)} tokens/s (${roofline.read_gb_per_s.toFixed(1)} GB/s ` +
            `streaming read over ${(roofline.weight_stream_bytes / 2 ** 20).toFixed(0)} MiB of packed weights per token); ` +
            `decode at ${result.roofline_ratio?.toFixed(2)} of it\n`,
        );
      } else {
        process.stdout.write(`roofline not measured: ${nativeUnavailableReason()}\n`);
      }
      if (result.breakdown_ms_per_step) {
        for (const [part, ms] of Object.entries(result.breakdown_ms_per_step))
          process.stdout.write(`  ${part.padEnd(28)} ${ms.toFixed(3)}\n`);
      }
    });
}
