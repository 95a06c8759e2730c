import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { parseSse } from "../../loadtest/sse-events.js";
import { makeRandomTestModel } from "../helpers/random-model.js";

/** A real `trine serve` process: SIGTERM, and the shipped model with no configuration. */

const ROOT = join(import.meta.dirname, "..", "..");
const dir = makeRandomTestModel();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ServeProcess {
  child: ChildProcess;
  url: string;
  model: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** `trine serve` from source on a free port of 127.0.0.1; resolves once the model is ready. */
async function serve(args: string[], withModel = true): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(ROOT, "src", "cli", "entry.ts"),
      "serve",
      ...(withModel ? ["--model", dir] : []),
      ...args,
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TRINE_HOST: "127.0.0.1", TRINE_PORT: "0", TRINE_WORKERS: "1" },
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const logs: Record<string, unknown>[] = [];
  let url = "";
  await new Promise<void>((resolve, reject) => {
    child.on("exit", () => reject(new Error("trine serve exited during start-up")));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const entry = JSON.parse(line);
      logs.push(entry);
      const listening = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry.msg));
      if (listening) url = listening[1];
      if (entry.msg === "model ready") resolve();
    });
  });
  return { child, url, model: String(logs.find((l) => l.msg === "model ready")!.model), logs, exited };
}

/** Opens a completion stream and resolves once its first chunk arrived; `rest` is the remainder. */
async function openStream(server: ServeProcess, maxTokens: number) {
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: server.model,
      prompt: "Once upon a time",
      max_tokens: maxTokens,
      logit_bias: { "1": -100 },
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value);
  const rest = (async () => {
    for (let part = await reader.read(); !part.done; part = await reader.read())
      text += decoder.decode(part.value);
    return text;
  })();
  return { rest };
}

describe("SIGTERM", () => {
  it("refuses new requests, lets running streams finish, then exits 0", async () => {
    const server = await serve(["--grace-period", "60", "--max-output-tokens", "3000"]);
    const streams = await Promise.all([
      openStream(server, 3000),
      openStream(server, 3000),
      openStream(server, 3000),
    ]);
    server.child.kill("SIGTERM");
    while (!server.logs.some((l) => l.msg === "draining"))
      await new Promise((resolve) => setTimeout(resolve, 10));

    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(503);
    const refused = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: server.model, prompt: "Hi", max_tokens: 2 }),
    });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("draining");

    for (const stream of streams) {
      const text = await stream.rest;
      const events = parseSse(text);
      expect(events.at(-1)?.data).toBe("[DONE]");
      const usage = JSON.parse(events.at(-2)!.data).usage;
      expect(usage.completion_tokens).toBe(3000);
    }
    expect(await server.exited).toBe(0);
    expect(server.logs.some((l) => l.msg === "stopped")).toBe(true);
  });

  it("ends streams still running when the grace period is over with an error event, and exits 0", async () => {
    const server = await serve(["--grace-period", "0.3", "--max-output-tokens", "10000000"]);
    const stream = await openStream(server, 10_000_000);
    server.child.kill("SIGTERM");
    const text = await stream.rest;
    const last = JSON.parse(parseSse(text).at(-1)!.data);
    expect(last.error).toMatchObject({ type: "service_unavailable_error", code: "draining" });
    expect(await server.exited).toBe(0);
  });
});

describe("trine serve with no configuration", () => {
  // The trained default model is committed separately; until it is there, this has nothing to run.
  it("serves the shipped model as 'storyteller'", async () => {
    const server = await serve([], false);
    try {
      expect(server.model).toBe("storyteller");
      const response = await fetch(`${server.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "storyteller", prompt: "Once upon a time", max_tokens: 20 }),
      });
      expect(response.status).toBe(200);
      expect(
        ((await response.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens,
      ).toBeGreaterThan(0);
    } finally {
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    }
  });
});
