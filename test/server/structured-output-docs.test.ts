import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type InProcessServer, startInProcess } from "../../loadtest/in-process.js";
import { post } from "../helpers/http.js";

/** docs/API.md's structured-output and tool-call examples, run as written against the shipped model. */

const api = readFileSync(join(import.meta.dirname, "..", "..", "docs", "API.md"), "utf8");
const section = api.slice(api.indexOf("## Structured outputs"), api.indexOf("## Streaming"));
/** Each curl example: its path and its JSON body (the text between -d '...'). */
const examples = [...section.matchAll(/curl -s localhost:8000(\/v1\/[a-z/]+)[\s\S]*?-d '([^']+)'/g)].map(
  ([, path, body]) => ({ path, body: JSON.parse(body) as Record<string, unknown> }),
);

let server: InProcessServer;
beforeAll(async () => {
  server = await startInProcess({ workers: 1, maxSequences: 8 });
});
afterAll(() => server.close());

it("finds the examples", () => {
  expect(examples.length).toBe(5);
  expect(examples.every(({ body }) => body.model === server.config.modelName)).toBe(true);
});

it("each answers as the prose says", async () => {
  for (const { path, body } of examples) {
    const { status, json } = await post(server, path, body);
    expect(status, JSON.stringify(json)).toBe(200);
    const [choice] = json.choices;
    const text: string | null = choice.message ? choice.message.content : choice.text;
    const structured = body.structured_outputs as Record<string, unknown> | undefined;
    if (body.response_format && choice.finish_reason === "stop")
      expect(JSON.parse(text ?? "")).toBeTypeOf("object");
    if (structured?.regex) expect(text).toMatch(new RegExp(`^${structured.regex}$`));
    if (structured?.choice) expect(structured.choice).toContain(text);
    if (structured?.grammar) expect(text).toMatch(/^The (fox|owl) is (red|grey)\.$/);
    if (body.tools) {
      expect(choice.finish_reason).toBe("tool_calls");
      expect(choice.message.content).toBeNull();
      expect(choice.message.tool_calls).toHaveLength(1);
      expect(JSON.parse(choice.message.tool_calls[0].function.arguments)).toHaveProperty("city");
    }
  }
});
