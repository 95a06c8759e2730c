import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { logCapture } from "../../loadtest/log-capture.js";
import { buildApp } from "../../src/server/app.js";
import { resolveServerConfig, type ServerConfig } from "../../src/server/config.js";

export interface LiveServer {
  readonly app: FastifyInstance;
  readonly config: ServerConfig;
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** Parsed log lines, when started with `captureLogs`. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface LiveServerOptions {
  /** Leave the model unloaded (the server answers as while loading). */
  readonly load?: boolean;
  readonly sseKeepAliveMs?: number;
  readonly captureLogs?: boolean;
}

/**
 * buildApp on a real socket, as the CLI runs it: one worker and quiet logs unless asked
 * otherwise.
 */
export async function startServer(
  modelDir: string,
  settings: Partial<ServerConfig> = {},
  options: LiveServerOptions = {},
): Promise<LiveServer> {
  const config: ServerConfig = {
    ...resolveServerConfig({ model: modelDir }, {}),
    host: "127.0.0.1",
    port: 0,
    workers: 1,
    logLevel: options.captureLogs ? "info" : "silent",
    ...settings,
  };
  const { lines: logs, destination } = logCapture();
  const app = buildApp({
    config,
    logger: pino({ level: config.logLevel }, destination),
    sseKeepAliveMs: options.sseKeepAliveMs,
  });
  await app.listen({ host: config.host, port: 0 });
  if (options.load !== false) await app.trine.service.start();
  const { port } = app.server.address() as AddressInfo;
  return { app, config, url: `http://127.0.0.1:${port}`, logs, close: () => app.close() };
}

/** The value of one sample in a Prometheus exposition, e.g. metric("trine_requests_running"). */
export async function metric(
  server: LiveServer,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const wanted = { model: server.config.modelName, ...labels };
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z0-9_:]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(wanted).every(([key, value]) => present[key] === value)) return Number(match[3]);
  }
  throw new Error(`no sample ${name} ${JSON.stringify(wanted)} in /metrics`);
}

/** POSTs JSON (or raw bytes) and returns the status, headers and parsed body. */
export function post(server: LiveServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  return answer(
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
    }),
  );
}

export function get(server: LiveServer, path: string, headers: Record<string, string> = {}) {
  return answer(fetch(`${server.url}${path}`, { headers }));
}

async function answer(pending: Promise<Response>) {
  const response = await pending;
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers loosely; their assertions check the shapes.
  return { status: response.status, headers: response.headers, json: json as any, text };
}
