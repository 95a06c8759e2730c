import { readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, resolveServerConfig, SETTINGS } from "../../src/server/config.js";
import { runCli } from "../cli/run-cli.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

const dir = makeRandomTestModel();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("server configuration", () => {
  it("takes defaults, then TRINE_* variables, then flags", () => {
    const defaults = resolveServerConfig({ model: dir }, {});
    expect(defaults).toMatchObject({
      host: "0.0.0.0",
      port: 8000,
      modelDir: dir,
      modelName: basename(dir),
      workers: availableParallelism(),
      maxSequences: 16,
      queueLength: 64,
      queueTimeoutMs: 30_000,
      maxPromptTokens: 4096,
      maxOutputTokens: 512,
      requestTimeoutMs: 600_000,
      apiKeys: [],
      corsOrigins: [],
      logLevel: "info",
      kernel: "auto",
      gracePeriodMs: 30_000,
      prefixCacheEntries: 64,
      maxBodyBytes: 1 << 20,
    });
    const env = {
      TRINE_PORT: "9000",
      TRINE_WORKERS: "3",
      TRINE_QUEUE_TIMEOUT_S: "2.5",
      TRINE_API_KEYS: "a, b,,c",
      TRINE_CORS_ORIGINS: "https://example.com,*",
      TRINE_MODEL_NAME: "",
    };
    expect(resolveServerConfig({ model: dir }, env)).toMatchObject({
      port: 9000,
      workers: 3,
      queueTimeoutMs: 2500,
      apiKeys: ["a", "b", "c"],
      corsOrigins: ["https://example.com", "*"],
      modelName: basename(dir),
    });
    expect(resolveServerConfig({ model: dir, port: "9100", workers: "2" }, env)).toMatchObject({
      port: 9100,
      workers: 2,
    });
  });

  const bad: [Record<string, string>, Record<string, string>, string][] = [
    [{ port: "abc" }, {}, "--port / TRINE_PORT: must be an integer from 0 to 65535"],
    [{}, { TRINE_PORT: "70000" }, "--port / TRINE_PORT"],
    [{}, { TRINE_WORKERS: "0" }, "--workers / TRINE_WORKERS"],
    [{ maxSequences: "1.5" }, {}, "--max-sequences / TRINE_MAX_SEQUENCES"],
    [{}, { TRINE_QUEUE_TIMEOUT_S: "-1" }, "--queue-timeout / TRINE_QUEUE_TIMEOUT_S"],
    [{ logLevel: "loud" }, {}, "--log-level / TRINE_LOG_LEVEL: must be one of fatal, error"],
    [{ kernel: "fast" }, {}, "--kernel / TRINE_KERNEL"],
    [{ corsOrigins: "example.com" }, {}, "--cors-origins / TRINE_CORS_ORIGINS"],
    [{ model: "/no/such/dir" }, {}, "--model / TRINE_MODEL: /no/such/dir is not a directory"],
    [{ maxBodyBytes: "10" }, {}, "--max-body-bytes / TRINE_MAX_BODY_BYTES"],
  ];
  it.each(bad)("refuses %j %j naming the setting", (flags, env, message) => {
    expect(() => resolveServerConfig({ model: dir, ...flags }, env)).toThrow(ConfigError);
    expect(() => resolveServerConfig({ model: dir, ...flags }, env)).toThrow(message);
  });

  it("documents every setting in docs/CONFIGURATION.md", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "CONFIGURATION.md"), "utf8");
    for (const setting of SETTINGS) {
      expect(doc).toContain(`\`${setting.flag}\``);
      expect(doc).toContain(`\`${setting.env}\``);
    }
  });
});

describe("trine serve start-up", () => {
  it("stops with one clear line and status 2 for a bad setting", () => {
    const flag = runCli(["serve", "--model", dir, "--port", "abc"]);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toBe('trine: --port / TRINE_PORT: must be an integer from 0 to 65535 (got "abc")\n');
    const env = runCli(["serve", "--model", dir], { TRINE_MAX_SEQUENCES: "0" });
    expect(env.status).toBe(2);
    expect(env.stderr).toContain("--max-sequences / TRINE_MAX_SEQUENCES: must be an integer from 1 to 4096");
  });

  it("stops with a clear line when the model directory is not a model", () => {
    const empty = runCli(["serve", "--model", join(dir, "..")]);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/^trine: \/.+: missing/);
    expect(empty.stderr).not.toContain("    at ");
  });
});
