import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, resolve } from "node:path";
import type { KernelPreference } from "../engine/kernels/select.js";
import { DEFAULT_MODEL_DIR } from "../model/default-model.js";
import { DEFAULT_STATE_STORE, parseStoreLocation, type StoreLocation } from "../store/state-store.js";

/**
 * The server's settings: each is a command-line flag and a TRINE_* environment variable (the
 * flag wins), validated once at start-up. SETTINGS is the single table of their names, ranges
 * (parsers) and defaults, behind the CLI options, the environment and docs/CONFIGURATION.md.
 */

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const KERNELS = ["auto", "reference", "wasm", "native"] as const;

export interface ServerConfig {
  host: string;
  port: number;
  modelDir: string;
  /** The id clients put in `model` and see in /v1/models. */
  modelName: string;
  workers: number;
  /** Sequences one worker advances together (its batch). */
  maxSequences: number;
  queueLength: number;
  queueTimeoutMs: number;
  maxPromptTokens: number;
  /** The default and the cap of max_tokens. */
  maxOutputTokens: number;
  /** From arrival; a request still generating then ends with finish_reason "length". */
  requestTimeoutMs: number;
  apiKeys: string[];
  corsOrigins: string[];
  logLevel: LogLevel;
  /** Where OTLP traces go; null leaves it to OTEL_EXPORTER_OTLP_* (tracing is off without any). */
  otlpTracesEndpoint: string | null;
  kernel: KernelPreference;
  gracePeriodMs: number;
  prefixCacheEntries: number;
  /** Where stored responses and their states live (src/store). */
  stateStore: StoreLocation;
  /** The store's byte bound: least recently used records go first. */
  stateStoreMaxBytes: number;
  /** How long a stored response is kept after it was written. */
  stateStoreTtlMs: number;
  maxBodyBytes: number;
  /** Serve the web playground at / (src/server/playground.ts). */
  ui: boolean;
}

/** A setting with a bad value: the message names the flag and the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

interface Setting<K extends keyof ServerConfig = keyof ServerConfig> {
  readonly key: K;
  /** The flag without its value, e.g. "--port". */
  readonly flag: string;
  readonly env: string;
  readonly valueName: string;
  readonly description: string;
  /** Throws a message (without the setting's name) for a bad value. */
  readonly parse: (raw: string) => ServerConfig[K];
  /** The value when neither the flag nor the variable is given; a function of the model directory where it depends on it. */
  readonly default: ServerConfig[K] | ((modelDir: string) => ServerConfig[K]);
  /** How --help shows the default. */
  readonly defaultText: string;
  /** A flag given without a value (--no-ui): the raw value it stands for; its variable takes a value. */
  readonly switchValue?: string;
}

/** One row of the table, typed by its key. */
const setting = <K extends keyof ServerConfig>(row: Setting<K>): Setting => row as unknown as Setting;

const MAX_SECONDS = 86_400;

function integer(min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

function milliseconds(raw: string): number {
  const seconds = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) {
    throw new Error(`must be a number of seconds greater than 0 and at most ${MAX_SECONDS}`);
  }
  return Math.round(seconds * 1000);
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    if (!(values as readonly string[]).includes(raw)) throw new Error(`must be one of ${values.join(", ")}`);
    return raw as T;
  };
}

function list(raw: string): string[] {
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function corsOrigins(raw: string): string[] {
  const origins = list(raw);
  for (const origin of origins) {
    if (origin === "*") continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (parsed?.origin !== origin)
      throw new Error(`"${origin}" is not an origin like https://example.com, or *`);
  }
  return origins;
}

function httpUrl(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw.trim());
  } catch {}
  if (url?.protocol !== "http:" && url?.protocol !== "https:")
    throw new Error("must be an http:// or https:// URL");
  return raw.trim();
}

function directory(raw: string): string {
  const dir = resolve(raw);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {}
  if (!isDirectory) throw new Error(`${dir} is not a directory`);
  return dir;
}

function boolean(raw: string): boolean {
  if (/^(true|1)$/i.test(raw.trim())) return true;
  if (/^(false|0)$/i.test(raw.trim())) return false;
  throw new Error("must be true or false");
}

function nonEmpty(raw: string): string {
  if (raw.trim() === "") throw new Error("must not be empty");
  return raw;
}

/** OpenAI keeps stored responses for 30 days. */
const STATE_STORE_TTL_DAYS = 30;

function days(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0 || value > 3650)
    throw new Error("must be a number of days greater than 0 and at most 3650");
  return Math.round(value * 86_400_000);
}

export const SETTINGS: readonly Setting[] = [
  setting({
    key: "host",
    flag: "--host",
    env: "TRINE_HOST",
    valueName: "host",
    description: "address to listen on",
    parse: nonEmpty,
    default: "0.0.0.0",
    defaultText: "0.0.0.0",
  }),
  setting({
    key: "port",
    flag: "--port",
    env: "TRINE_PORT",
    valueName: "port",
    description: "port to listen on",
    parse: integer(0, 65535),
    default: 8000,
    defaultText: "8000; 0 picks a free one",
  }),
  setting({
    key: "modelDir",
    flag: "--model",
    env: "TRINE_MODEL",
    valueName: "dir",
    description: "model directory, packed or Hugging Face",
    parse: directory,
    default: DEFAULT_MODEL_DIR,
    defaultText: "the shipped model",
  }),
  setting({
    key: "modelName",
    flag: "--model-name",
    env: "TRINE_MODEL_NAME",
    valueName: "id",
    description: "model id clients send",
    parse: nonEmpty,
    default: (modelDir) => basename(modelDir),
    defaultText: "the model directory's name",
  }),
  setting({
    key: "workers",
    flag: "--workers",
    env: "TRINE_WORKERS",
    valueName: "n",
    description: "worker threads",
    parse: integer(1, 1024),
    default: () => availableParallelism(),
    defaultText: "available cores",
  }),
  setting({
    key: "maxSequences",
    flag: "--max-sequences",
    env: "TRINE_MAX_SEQUENCES",
    valueName: "n",
    description: "concurrent sequences per worker",
    parse: integer(1, 4096),
    default: 16,
    defaultText: "16",
  }),
  setting({
    key: "queueLength",
    flag: "--queue-length",
    env: "TRINE_QUEUE_LENGTH",
    valueName: "n",
    description: "requests that may wait for a slot before 429",
    parse: integer(0, 1_000_000),
    default: 64,
    defaultText: "64",
  }),
  setting({
    key: "queueTimeoutMs",
    flag: "--queue-timeout",
    env: "TRINE_QUEUE_TIMEOUT_S",
    valueName: "seconds",
    description: "longest wait for a slot before 429",
    parse: milliseconds,
    default: 30_000,
    defaultText: "30",
  }),
  setting({
    key: "maxPromptTokens",
    flag: "--max-prompt-tokens",
    env: "TRINE_MAX_PROMPT_TOKENS",
    valueName: "n",
    description: "longest prompt accepted",
    parse: integer(1, 10_000_000),
    default: 4096,
    defaultText: "4096",
  }),
  setting({
    key: "maxOutputTokens",
    flag: "--max-output-tokens",
    env: "TRINE_MAX_OUTPUT_TOKENS",
    valueName: "n",
    description: "default and cap of max_tokens",
    parse: integer(1, 10_000_000),
    default: 512,
    defaultText: "512",
  }),
  setting({
    key: "requestTimeoutMs",
    flag: "--request-timeout",
    env: "TRINE_REQUEST_TIMEOUT_S",
    valueName: "seconds",
    description: "deadline from arrival; then finish_reason is length",
    parse: milliseconds,
    default: 600_000,
    defaultText: "600",
  }),
  setting({
    key: "apiKeys",
    flag: "--api-keys",
    env: "TRINE_API_KEYS",
    valueName: "keys",
    description: "comma-separated API keys; none = no authentication",
    parse: list,
    default: [],
    defaultText: "none",
  }),
  setting({
    key: "corsOrigins",
    flag: "--cors-origins",
    env: "TRINE_CORS_ORIGINS",
    valueName: "origins",
    description: "comma-separated origins allowed by CORS, or *",
    parse: corsOrigins,
    default: [],
    defaultText: "none",
  }),
  setting({
    key: "logLevel",
    flag: "--log-level",
    env: "TRINE_LOG_LEVEL",
    valueName: "level",
    description: `${LOG_LEVELS.join("|")}`,
    parse: oneOf(LOG_LEVELS),
    default: "info",
    defaultText: "info",
  }),
  setting({
    key: "otlpTracesEndpoint",
    flag: "--otlp-traces-endpoint",
    env: "TRINE_OTLP_TRACES_ENDPOINT",
    valueName: "url",
    description: "OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; turns tracing on",
    parse: httpUrl,
    default: null,
    defaultText: "none: tracing off unless OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set",
  }),
  setting({
    key: "kernel",
    flag: "--kernel",
    env: "TRINE_KERNEL",
    valueName: "kind",
    description: `ternary kernel: ${KERNELS.join("|")}`,
    parse: oneOf(KERNELS),
    default: "auto",
    defaultText: "auto",
  }),
  setting({
    key: "gracePeriodMs",
    flag: "--grace-period",
    env: "TRINE_GRACE_PERIOD_S",
    valueName: "seconds",
    description: "on SIGTERM, how long running requests may finish",
    parse: milliseconds,
    default: 30_000,
    defaultText: "30",
  }),
  setting({
    key: "prefixCacheEntries",
    flag: "--prefix-cache-entries",
    env: "TRINE_PREFIX_CACHE_ENTRIES",
    valueName: "n",
    description: "prefix states kept; 0 turns the cache off",
    parse: integer(0, 1_000_000),
    default: 64,
    defaultText: "64",
  }),
  setting({
    key: "stateStore",
    flag: "--state-store",
    env: "TRINE_STATE_STORE",
    valueName: "where",
    description: "stored responses: a directory (embedded, LMDB), redis://host:port (shared), or memory",
    parse: parseStoreLocation,
    default: parseStoreLocation(DEFAULT_STATE_STORE),
    defaultText: "$XDG_STATE_HOME/trine/responses, else ~/.local/state/trine/responses",
  }),
  setting({
    key: "stateStoreMaxBytes",
    flag: "--state-store-max-bytes",
    env: "TRINE_STATE_STORE_MAX_BYTES",
    valueName: "bytes",
    description: "bound of the embedded and memory stores; least recently used dropped first",
    parse: integer(1 << 20, Number.MAX_SAFE_INTEGER),
    default: 1 << 30,
    defaultText: "1073741824",
  }),
  setting({
    key: "stateStoreTtlMs",
    flag: "--state-store-ttl",
    env: "TRINE_STATE_STORE_TTL_DAYS",
    valueName: "days",
    description: "how long a stored response is kept",
    parse: days,
    default: STATE_STORE_TTL_DAYS * 86_400_000,
    defaultText: String(STATE_STORE_TTL_DAYS),
  }),
  setting({
    key: "maxBodyBytes",
    flag: "--max-body-bytes",
    env: "TRINE_MAX_BODY_BYTES",
    valueName: "bytes",
    description: "largest request body before 413",
    parse: integer(1024, 1 << 30),
    default: 1 << 20,
    defaultText: "1048576",
  }),
  setting({
    key: "ui",
    flag: "--no-ui",
    env: "TRINE_UI",
    valueName: "true|false",
    description: "turn off the web playground at /",
    parse: boolean,
    default: true,
    defaultText: "served",
    switchValue: "false",
  }),
];

/** The commander option name of a flag: "--max-sequences" → "maxSequences". */
export function optionName(flag: string): string {
  return flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/**
 * The configuration from parsed flags (keyed by optionName) and the environment; unset
 * settings take their defaults. Throws ConfigError naming the first bad setting.
 */
export function resolveServerConfig(
  flags: Readonly<Record<string, string | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
): ServerConfig {
  const given: Partial<Record<keyof ServerConfig, unknown>> = {};
  for (const setting of SETTINGS) {
    const fromFlag = flags[optionName(setting.flag)];
    const fromEnv = env[setting.env];
    const raw = fromFlag ?? (fromEnv === "" ? undefined : fromEnv);
    if (raw !== undefined) given[setting.key] = parseSetting(setting, raw);
  }
  const modelDir = (given.modelDir as string | undefined) ?? DEFAULT_MODEL_DIR;
  const config: Partial<Record<keyof ServerConfig, unknown>> = {};
  for (const setting of SETTINGS) {
    const fallback = setting.default;
    config[setting.key] =
      setting.key in given
        ? given[setting.key]
        : typeof fallback === "function"
          ? fallback(modelDir)
          : fallback;
  }
  return { ...config, modelDir } as ServerConfig;
}

function parseSetting(setting: Setting, raw: string): unknown {
  try {
    return setting.parse(raw);
  } catch (error) {
    throw new ConfigError(`${setting.flag} / ${setting.env}: ${(error as Error).message} (got "${raw}")`);
  }
}

/**
 * The kernel a command other than `serve` uses: TRINE_KERNEL, read by the same table row as the
 * server's --kernel, so both accept exactly the same values.
 */
export function kernelFromEnvironment(env: Readonly<Record<string, string | undefined>>): KernelPreference {
  const row = SETTINGS.find((candidate) => candidate.key === "kernel")!;
  const raw = env[row.env];
  return raw === undefined || raw === "" ? "auto" : (parseSetting(row, raw) as KernelPreference);
}
