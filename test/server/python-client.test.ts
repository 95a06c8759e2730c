import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";

/**
 * The Responses API through the official `openai` Python client (test/python/responses_contract.py).
 * It needs the package, which comes from PyPI: CI has no PyPI (and Debian packages no `openai`),
 * so there this file is skipped and says so; developers run it with TRINE_PYTHON naming a Python
 * that has it, or a virtual environment in .work/py (`python3 -m venv .work/py &&
 * .work/py/bin/pip install openai`).
 */

const python = [process.env.TRINE_PYTHON, ".work/py/bin/python", "python3"].find(
  (candidate) => candidate !== undefined && (candidate === "python3" || existsSync(candidate)),
) as string;
const hasClient = spawnSync(python, ["-c", "import openai"]).status === 0;
if (!hasClient)
  console.warn(`skipped: ${python} has no openai package (see test/server/python-client.test.ts)`);

let server: InProcessServer;
beforeAll(async () => {
  if (hasClient) server = await startInProcess({});
});
afterAll(async () => server?.close());

it.runIf(hasClient)(
  "serves the Python client: a 20-turn chain, a stream, retrieve, input items, delete, text.format",
  async () => {
    // Asynchronously: the server answers on this thread.
    const { stdout } = await promisify(execFile)(
      python,
      ["test/python/responses_contract.py", `${server.url}/v1`],
      {
        encoding: "utf8",
      },
    );
    expect(stdout).toContain("ok:");
  },
  120_000,
);
