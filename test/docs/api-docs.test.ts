import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { API_DOC, fieldTables, openApiDocument, renderApiDoc } from "../../scripts/api-docs.js";

it("docs/API.md's field tables are the ones generated from the endpoint schemas (npm run docs:api)", async () => {
  const committed = readFileSync(API_DOC, "utf8");
  const tables = fieldTables(await openApiDocument());
  expect(renderApiDoc(committed, tables)).toBe(committed);
  // Every request body the server documents has its table in the docs.
  for (const key of tables.keys())
    if (key.endsWith("request")) expect(committed).toContain(`<!-- fields: ${key} -->`);
});
