import type { Command } from "commander";
import { prefill } from "../../engine/prefill.js";
import { createState } from "../../engine/state.js";
import { Workspace } from "../../engine/workspace.js";
import { loadModelWeights } from "../../model/model-dir.js";
import { chooseKernel } from "../kernel-choice.js";
import { UsageError } from "../usage-error.js";

export function registerLogits(program: Command): void {
  program
    .command("logits")
    .description("print the logits of every input position as one JSON array of rows (for numeric checks)")
    .requiredOption("--model <dir>", "model directory (packed or Hugging Face)")
    .requiredOption("--ids <ids>", "comma-separated input token ids, e.g. 1,2,3")
    .action(async (options: { model: string; ids: string }) => {
      const ids = options.ids.split(",").map((s) => Number(s.trim()));
      if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 0)) {
        throw new UsageError(`--ids must be comma-separated non-negative integers, got "${options.ids}"`);
      }
      const { model } = loadModelWeights(options.model);
      const V = model.config.vocabSize;
      const bad = ids.find((id) => id >= V);
      if (bad !== undefined) throw new UsageError(`token id ${bad} is outside the vocabulary (0..${V - 1})`);
      const kernel = await chooseKernel();
      const logits = prefill(model, createState(model.config), ids, kernel, new Workspace(), {
        allLogits: true,
      });
      const rows = ids.map((_, p) => `[${Array.from(logits.subarray(p * V, (p + 1) * V)).join(",")}]`);
      process.stdout.write(`[${rows.join(",\n")}]\n`);
    });
}
