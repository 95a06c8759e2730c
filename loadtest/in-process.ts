import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { type AppOptions, buildApp } from "../src/server/app.js";
import { resolveServerConfig, type ServerConfig } from "../src/server/config.js";
import { logCapture } from "./log-capture.js";
import { DEFAULT_MODEL_DIR } from "./workload.js";

/**
 * A server in this process, for the fault scenarios that need its insides: stopping one of its
 * worker threads, or limits shortened so that a timeout can be waited for in a test.
 */

export interface InProcessServer {
  readonly app: FastifyInstance;
  readonly config: ServerConfig;
  readonly url: string;
  /** Its log lines, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Ends worker thread `index` as a crash would; the pool starts a replacement. */
  killWorker(index?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startInProcess(
  settings: Partial<ServerConfig> = {},
  appOptions: Omit<AppOptions, "config" | "logger"> = {},
): Promise<InProcessServer> {
  const config: ServerConfig = {
    ...resolveServerConfig({ model: DEFAULT_MODEL_DIR }, {}),
    host: "127.0.0.1",
    port: 0,
    logLevel: "info",
    ...settings,
  };
  const { lines: logs, destination } = logCapture();
  const app = buildApp({ ...appOptions, config, logger: pino({ level: config.logLevel }, destination) });
  await app.listen({ host: config.host, port: 0 });
  await app.trine.service.start();
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    logs,
    killWorker: async (index = 0) => {
      await app.trine.service.workerPool!.threads[index].terminate();
    },
    close: () => app.close(),
  };
}
