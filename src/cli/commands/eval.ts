import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { DEFAULT_EVAL_WINDOW, scoreTokens } from "../../generation/perplexity.js";
import { loadModel } from "../../model/loaded-model.js";
import { chooseKernel } from "../kernel-choice.js";
import { progressBar } from "../progress-bar.js";
import { UsageError } from "../usage-error.js";

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description("mean cross-entropy, perplexity and bits per character of a model over a text file")
    .requiredOption("--model <dir>", "model directory (packed or Hugging Face)")
    .requiredOption("--text <file>", "UTF-8 text file to score")
    .option("--window <tokens>", "tokens per independently scored window", String(DEFAULT_EVAL_WINDOW))
    .option("--json", "print one JSON object {tokens, characters, mean_nll, perplexity, bits_per_char}")
    .action(async (options: { model: string; text: string; window: string; json?: boolean }) => {
      const window = Number(options.window);
      if (!Number.isInteger(window) || window < 2)
        throw new UsageError(`--window must be an integer ≥ 2, got ${options.window}`);
      let text: string;
      try {
        text = readFileSync(options.text, "utf8");
      } catch (error) {
        throw new UsageError(`cannot read --text ${options.text}: ${(error as Error).message}`);
      }
      const loaded = loadModel(options.model);
      const ids = loaded.tokenizer.encode(text, { addSpecialTokens: false });
      if (ids.length < 2) throw new UsageError(`${options.text} has fewer than two tokens to score`);
      const kernel = await chooseKernel();
      const bar = progressBar("scoring", "tokens");
      const started = performance.now();
      const { tokens, totalNll } = scoreTokens(
        loaded.model,
        ids,
        loaded.tokenizer.bosTokenId,
        kernel,
        window,
        bar.update,
      );
      bar.done();
      const characters = [...text].length;
      const result = {
        tokens,
        characters,
        mean_nll: totalNll / tokens,
        perplexity: Math.exp(totalNll / tokens),
        bits_per_char: totalNll / Math.LN2 / characters,
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(
        `${tokens} tokens, ${characters} characters (${kernel.name} kernel, ${(tokens / seconds).toFixed(0)} tokens/s)\n` +
          `mean NLL ${result.mean_nll.toFixed(4)} nats, perplexity ${result.perplexity.toFixed(3)}, ${result.bits_per_char.toFixed(4)} bits/char\n`,
      );
    });
}
