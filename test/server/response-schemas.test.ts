import pino from "pino";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/server/app.js";
import { resolveServerConfig } from "../../src/server/config.js";
import { CompletionChunk } from "../../src/server/endpoints/completions/schema.js";
import { ModelCard } from "../../src/server/endpoints/models/schema.js";
import { responseSerializer } from "../../src/server/endpoints/shared/serializer.js";

/**
 * Responses are written by their schemas. The test servers (checkResponses) also validate each
 * one first, so a route that returns a field its schema lacks fails every test that calls it
 * (the recorded answers of every endpoint run with the check on) instead of the field being
 * dropped in silence.
 */
describe("response schemas", () => {
  const card = {
    id: "m",
    object: "model",
    created: 1,
    owned_by: "trine",
    max_prompt_tokens: 8,
    max_output_tokens: 8,
  };

  async function appReturning(body: unknown, checkResponses: boolean) {
    const app = buildApp({
      config: resolveServerConfig({}, {}),
      logger: pino({ level: "silent" }),
      checkResponses,
    });
    app.get("/card", { schema: { response: { 200: ModelCard } } }, async () => body);
    await app.ready();
    const answer = await app.inject({ method: "GET", url: "/card" });
    await app.close();
    return answer;
  }

  it("answer 500 when a route returns a field its schema lacks, with the check on", async () => {
    const answer = await appReturning({ ...card, secret: "x" }, true);
    expect(answer.statusCode).toBe(500);
    expect(answer.json().error.code).toBe("internal_error");
    expect(answer.body).not.toContain("secret");
  });

  it("never write a field the schema lacks, with the check off", async () => {
    const answer = await appReturning({ ...card, secret: "x" }, false);
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual(card);
  });

  it("pass a response that matches, byte for byte as JSON.stringify writes it", async () => {
    const answer = await appReturning(card, true);
    expect(answer.body).toBe(JSON.stringify(card));
  });

  it("check streamed chunks the same way", () => {
    const serialize = responseSerializer(CompletionChunk, true);
    const chunk = { id: "c", object: "text_completion", created: 1, model: "m", choices: [] };
    expect(serialize(chunk)).toBe(JSON.stringify(chunk));
    expect(() => serialize({ ...chunk, extra: 1 })).toThrow(/does not match its schema/);
    expect(() => serialize({ ...chunk, choices: [{ index: 0, text: 1 }] })).toThrow(/does not match/);
  });
});
