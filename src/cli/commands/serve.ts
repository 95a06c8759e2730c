import type { Command } from "commander";
import pino from "pino";
import { KernelUnavailableError } from "../../engine/kernels/select.js";
import { buildApp } from "../../server/app.js";
import { ConfigError, resolveServerConfig, SETTINGS } from "../../server/config.js";
import { UsageError } from "../usage-error.js";

export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .description(
      "serve the OpenAI-compatible API (settings: docs/CONFIGURATION.md; flags win over TRINE_* variables)",
    );
  for (const setting of SETTINGS)
    command.option(
      `${setting.flag} <${setting.valueName}>`,
      `${setting.description} (default: ${setting.defaultText}; env ${setting.env})`,
    );
  command.action(async (options: Record<string, string | undefined>) => {
    let config: ReturnType<typeof resolveServerConfig>;
    try {
      config = resolveServerConfig(options, process.env);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
    const logger = pino({ level: config.logLevel });
    const app = buildApp({ config, logger });
    const { scheduler } = app.trine;
    let stopping = false;
    const shutDown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, gracePeriodSeconds: config.gracePeriodMs / 1000 }, "draining");
      await scheduler.drain(config.gracePeriodMs);
      await app.close();
      logger.info("stopped");
    };
    process.once("SIGTERM", () => void shutDown("SIGTERM"));
    process.once("SIGINT", () => void shutDown("SIGINT"));

    // Listening before the model loads lets probes see /health = 200 and /ready = 503 meanwhile.
    await app.listen({ host: config.host, port: config.port });
    try {
      await scheduler.start();
    } catch (error) {
      await app.close();
      if (error instanceof KernelUnavailableError)
        throw new UsageError(`--kernel / TRINE_KERNEL: ${error.message}`);
      throw error;
    }
  });
}
