import { Command, CommanderError } from "commander";
import { ModelConfigError, ModelFileError } from "../engine/errors.js";
import { KernelUnavailableError } from "../engine/kernels/select.js";
import { registerBench } from "./commands/bench.js";
import { registerConvert } from "./commands/convert.js";
import { registerEval } from "./commands/eval.js";
import { registerGenerate } from "./commands/generate.js";
import { registerInspect } from "./commands/inspect.js";
import { registerLogits } from "./commands/logits.js";
import { registerServe } from "./commands/serve.js";
import { UsageError } from "./usage-error.js";

/** The `trine` command line. Each subcommand lives in commands/<name>.ts. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("trine")
    .description("Serve and run MatMul-free (ternary) language models on CPUs")
    .showHelpAfterError()
    .exitOverride();
  registerGenerate(program);
  registerConvert(program);
  registerEval(program);
  registerInspect(program);
  registerLogits(program);
  registerServe(program);
  registerBench(program);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

/** Expected failures print one clear line; anything else is a bug and keeps its stack. */
function reportError(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode;
  if (
    error instanceof ModelFileError ||
    error instanceof ModelConfigError ||
    error instanceof KernelUnavailableError ||
    error instanceof UsageError
  ) {
    process.stderr.write(`trine: ${error.message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
  process.stderr.write(`trine: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return 70;
}
