import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import type { MetricValueWithName } from "prom-client";
import { type AppOptions, buildApp } from "../src/server/app.js";
import { resolveServerConfig, type ServerConfig } from "../src/server/config.js";

/**
 * A server in this process, on a real socket of 127.0.0.1, built by `buildApp` as `trine serve`
 * builds it: for the tests, and for the fault scenarios that need its insides (stopping one of
 * its worker threads, limits shortened so that a timeout can be waited for). Its metrics are read
 * from its registry; /metrics over HTTP is for the tests of the exposition itself
 * (loadtest/metrics.ts) and for servers in another process (loadtest/server.ts).
 */

export interface InProcessServer {
  readonly app: FastifyInstance;
  readonly config: ServerConfig;
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** Its log lines, parsed (none at the default level, "silent"). */
  readonly logs: Record<string, unknown>[];
  /**
   * The sum of the samples of `name` whose labels include `labels`, e.g.
   * metric("trine_requests_total", { finish_reason: "stop" }) or
   * metric("trine_time_to_first_token_seconds_count"); 0 when no series matches yet. Throws for a
   * name the server does not export.
   */
  metric(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
  /** Ends worker thread `index` as a crash would; the pool starts a replacement. */
  killWorker(index?: number): Promise<void>;
  close(): Promise<void>;
}

/** Responses are checked against their schemas (`checkResponses`) unless the options say otherwise. */
export interface InProcessOptions extends Omit<AppOptions, "config" | "logger"> {
  /** Leave the model unloaded: the server answers as it does while loading. */
  readonly load?: boolean;
}

/**
 * `settings` go over `trine serve`'s defaults, with `modelDir` (default: the shipped model) taken
 * as its --model, so that the model's name follows from it. Unlike `trine serve`, one worker
 * (a test needs no more, and starts sooner) and no logs unless `settings` ask for them.
 */
export async function startInProcess(
  settings: Partial<ServerConfig> = {},
  options: InProcessOptions = {},
): Promise<InProcessServer> {
  const { load = true, ...appOptions } = options;
  const config: ServerConfig = {
    ...resolveServerConfig(settings.modelDir === undefined ? {} : { model: settings.modelDir }, {}),
    workers: 1,
    logLevel: "silent",
    // Tests keep stored responses in memory unless they ask for a store (never the user's directory).
    stateStore: { kind: "memory" },
    ...settings,
    host: "127.0.0.1",
    port: 0,
  };
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = buildApp({
    checkResponses: true,
    ...appOptions,
    config,
    logger: pino({ level: config.logLevel }, destination),
  });
  await app.listen({ host: config.host, port: config.port });
  if (load) await app.trine.scheduler.start();
  const { port } = app.server.address() as AddressInfo;
  const registry = app.trine.scheduler.metrics.registry;
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    logs,
    metric: async (name, labels = {}) => {
      let exported = false;
      let total = 0;
      for (const family of await registry.getMetricsAsJSON()) {
        // A histogram's samples are named name_bucket, name_sum and name_count.
        for (const sample of family.values as MetricValueWithName<string>[]) {
          if ((sample.metricName ?? family.name) !== name) continue;
          exported = true;
          if (Object.entries(labels).every(([key, value]) => String(sample.labels[key]) === value))
            total += sample.value;
        }
        exported ||= family.name === name;
      }
      if (!exported) throw new Error(`the server exports no metric ${name}`);
      return total;
    },
    killWorker: async (index = 0) => {
      await app.trine.scheduler.workerPool!.threads[index].terminate();
    },
    close: () => app.close(),
  };
}
