import type { Command } from "commander";
import { BatchGenerator, type FinishReason } from "../../generation/batch-generator.js";
import { type SequenceSpec, SequenceSpecError, sequenceSpec } from "../../generation/sequence-spec.js";
import { DEFAULT_MODEL_DIR } from "../../model/default-model.js";
import { generationDefaults } from "../../model/generation-defaults.js";
import { loadModel } from "../../model/loaded-model.js";
import { chooseKernel } from "../kernel-choice.js";
import { UsageError } from "../usage-error.js";

interface GenerateOptions {
  model: string;
  prompt: string;
  maxTokens?: string;
  temperature?: string;
  topK?: string;
  topP?: string;
  minP?: string;
  repetitionPenalty?: string;
  presencePenalty?: string;
  frequencyPenalty?: string;
  seed?: string;
  stop: string[];
  stopTokenId: string[];
  logitBias: string[];
  logprobs?: string;
  ignoreEos?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The request fields whose flag is not their name with dashes (repeatable flags are singular). */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = { stop_token_ids: "stop-token-id" };

function numberOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("generate a continuation of a prompt, streaming the text to stdout")
    .option("--model <dir>", "model directory (packed or Hugging Face)", DEFAULT_MODEL_DIR)
    .requiredOption("--prompt <text>", "the prompt")
    .option("--max-tokens <n>", "most tokens to generate (default 128)")
    .option("--temperature <t>", "0 = greedy (default: the model's generation_config, else 1)")
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)")
    .option("--top-p <p>", "nucleus sampling threshold (1 = off)")
    .option("--min-p <p>", "keep tokens with p >= min_p * p_max (0 = off)")
    .option("--repetition-penalty <r>", "HF repetition penalty (1 = off)")
    .option("--presence-penalty <x>", "OpenAI presence penalty")
    .option("--frequency-penalty <x>", "OpenAI frequency penalty")
    .option("--seed <n>", "seed for reproducible sampling")
    .option("--stop <text>", "stop string (repeatable)", collect, [])
    .option("--stop-token-id <id>", "extra stop token id (repeatable)", collect, [])
    .option("--logit-bias <id=bias>", "add bias to a token's logit (repeatable)", collect, [])
    .option("--logprobs <n>", "report logprobs with n alternatives (JSON output)")
    .option("--ignore-eos", "keep generating past end-of-text")
    .option("--json", "print one JSON object instead of streaming text")
    .action(async (options: GenerateOptions) => {
      const loaded = loadModel(options.model);
      const logitBias: Record<string, number> = {};
      for (const entry of options.logitBias) {
        const [id, bias] = entry.split("=");
        if (id === undefined || bias === undefined)
          throw new UsageError(`--logit-bias must be id=bias, got "${entry}"`);
        logitBias[id] = numberOption("logit-bias", bias)!;
      }
      const promptIds = loaded.tokenizer.encode(options.prompt);
      let spec: SequenceSpec;
      try {
        spec = sequenceSpec(
          {
            promptIds,
            sampling: {
              temperature: numberOption("temperature", options.temperature),
              top_k: numberOption("top-k", options.topK),
              top_p: numberOption("top-p", options.topP),
              min_p: numberOption("min-p", options.minP),
              repetition_penalty: numberOption("repetition-penalty", options.repetitionPenalty),
              presence_penalty: numberOption("presence-penalty", options.presencePenalty),
              frequency_penalty: numberOption("frequency-penalty", options.frequencyPenalty),
              seed: numberOption("seed", options.seed),
              logit_bias: logitBias,
            },
            maxTokens: numberOption("max-tokens", options.maxTokens),
            logprobs: numberOption("logprobs", options.logprobs),
            stop: options.stop,
            stopTokenIds: options.stopTokenId.map((id) => numberOption("stop-token-id", id)!),
            ignoreEos: options.ignoreEos,
          },
          {
            vocabSize: loaded.model.config.vocabSize,
            eosTokenIds: loaded.eosTokenIds,
            defaults: generationDefaults(loaded.generationConfig),
          },
          { maxTokens: 128 },
        );
      } catch (error) {
        // The same validation as the server's, reported with the flag's spelling.
        if (error instanceof SequenceSpecError)
          throw new UsageError(
            `--${FLAG_OF_FIELD[error.param] ?? error.param.replaceAll("_", "-")}: ${error.problem}`,
          );
        throw error;
      }

      const generator = new BatchGenerator(loaded.model, loaded.tokenizer, await chooseKernel());
      generator.add(spec);
      let text = "";
      const tokens: number[] = [];
      const logprobs: unknown[] = [];
      let finishReason: FinishReason | null = null;
      while (finishReason === null) {
        for (const t of generator.step().tokens) {
          tokens.push(t.token);
          if (t.logprobs) logprobs.push(t.logprobs);
          text += t.text;
          if (!options.json && t.text) process.stdout.write(t.text);
          finishReason = t.finishReason;
        }
      }
      if (options.json) {
        const usage = { prompt_tokens: promptIds.length, completion_tokens: tokens.length };
        process.stdout.write(
          `${JSON.stringify({ text, tokens, finish_reason: finishReason, usage, ...(spec.logprobs !== null ? { logprobs } : {}) })}\n`,
        );
      } else {
        process.stdout.write("\n");
      }
    });
}
