import type { Command } from "commander";
import pino from "pino";
import { KernelUnavailableError } from "../../engine/kernels/select.js";
import { buildApp } from "../../server/app.js";
import { ConfigError, optionName, resolveServerConfig, SETTINGS } from "../../server/config.js";
import { type Tracing, tracingFor } from "../../server/tracing.js";
import { UsageError } from "../usage-error.js";

export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .description(
      "serve the OpenAI-compatible API (settings: docs/CONFIGURATION.md; flags win over TRINE_* variables)",
    );
  for (const setting of SETTINGS)
    command.option(
      setting.switchValue === undefined ? `${setting.flag} <${setting.valueName}>` : setting.flag,
      `${setting.description} (default: ${setting.defaultText}; env ${setting.env})`,
    );
  command.action(async (options: Record<string, string | undefined>) => {
    let config: ReturnType<typeof resolveServerConfig>;
    let tracing: Tracing | undefined;
    try {
      config = resolveServerConfig(switchesAsValues(command, options), process.env);
      // Before the app exists, so that @fastify/otel sees its routes; a bad OTEL_* value stops here.
      tracing = await tracingFor(config, process.env);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
    const logger = pino({ level: config.logLevel });
    const app = buildApp({ config, logger, tracing });
    if (tracing) logger.info({ endpoint: config.otlpTracesEndpoint ?? "OTEL_EXPORTER_OTLP_*" }, "tracing on");
    const { scheduler } = app.trine;
    let stopping = false;
    const shutDown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, gracePeriodSeconds: config.gracePeriodMs / 1000 }, "draining");
      await scheduler.drain(config.gracePeriodMs);
      await app.close();
      // Exports the spans still waiting in the batch.
      await tracing?.shutdown();
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

/**
 * Commander keeps a `--no-x` switch as `x: true | false`, set even when the flag was not given;
 * the settings table wants a flag's raw value (`switchValue`) only when it was given, so that the
 * switch's TRINE_* variable still counts otherwise.
 */
function switchesAsValues(
  command: Command,
  options: Record<string, unknown>,
): Record<string, string | undefined> {
  const flags = { ...options } as Record<string, string | undefined>;
  for (const setting of SETTINGS) {
    if (setting.switchValue === undefined) continue;
    const attribute = optionName(setting.flag.replace(/^--no-/, "--"));
    delete flags[attribute];
    if (command.getOptionValueSource(attribute) === "cli")
      flags[optionName(setting.flag)] = setting.switchValue;
  }
  return flags;
}
