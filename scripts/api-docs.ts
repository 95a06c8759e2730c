/**
 * docs/API.md's field tables, generated from the endpoints' schemas (through the OpenAPI document
 * the server itself serves at /docs/json), so the docs cannot drift from what is validated and
 * sent. The prose around them is hand-written; each table sits between markers:
 *
 *   <!-- fields: POST /v1/completions request -->  ...  <!-- /fields -->
 *   <!-- fields: POST /v1/completions response -->  ...  <!-- /fields -->
 *
 *   npm run docs:api          rewrites docs/API.md
 *   npm run docs:api -- --check   exits 1 when docs/API.md differs (test/docs/api-docs.test.ts does the same in CI)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { buildApp } from "../src/server/app.js";
import { resolveServerConfig } from "../src/server/config.js";

export const API_DOC = join(import.meta.dirname, "..", "docs", "API.md");

interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minItems?: number;
}

interface OpenApi {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

interface OpenApiOperation {
  requestBody?: { content: { "application/json": { schema: JsonSchema } } };
  responses: Record<string, { content?: { "application/json"?: { schema: JsonSchema } } }>;
}

/** The OpenAPI document of a server built as `trine serve` builds it (no model is loaded). */
export async function openApiDocument(): Promise<OpenApi> {
  const app = buildApp({ config: resolveServerConfig({}, {}), logger: pino({ level: "silent" }) });
  await app.ready();
  const document = app.swagger() as unknown as OpenApi;
  await app.close();
  return document;
}

/** A schema's type as a reader says it: "string or array of strings", "integer or null". */
function typeName(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(", ");
  if (schema.anyOf) return [...new Set(schema.anyOf.map(typeName))].join(" or ");
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length === 0) return "any";
  return types
    .map((type) => {
      if (type === "array" && schema.items) return `array of ${plural(typeName(schema.items))}`;
      if (type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object")
        return `object of ${plural(typeName(schema.additionalProperties))}`;
      return type;
    })
    .join(" or ");
}

const plural = (name: string) => (/^(string|number|integer|boolean|object)$/.test(name) ? `${name}s` : name);

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/** One row per field, nested object fields as `parent.child` and array items as `parent[].child`. */
function rows(schema: JsonSchema, prefix = "", depth = 0): string[] {
  const object = schema.anyOf?.find((option) => option.properties) ?? schema;
  const properties = object.properties ?? object.items?.properties;
  if (!properties) return [];
  const path = object.items?.properties ? `${prefix}[]` : prefix;
  const required = new Set((object.items?.properties ? object.items.required : object.required) ?? []);
  const result: string[] = [];
  for (const [name, field] of Object.entries(properties)) {
    const full = path ? `${path}.${name}` : name;
    const need = required.has(name) ? "yes" : "";
    result.push(`| \`${full}\` | ${cell(typeName(field))} | ${need} | ${cell(field.description ?? "")} |`);
    if (depth < 3) result.push(...rows(field, full, depth + 1));
  }
  return result;
}

function table(schema: JsonSchema): string {
  return ["| Field | Type | Required | Description |", "| --- | --- | --- | --- |", ...rows(schema)].join("\n");
}

/** Each marker's table, keyed by its marker text ("POST /v1/completions request"). */
export function fieldTables(document: OpenApi): Map<string, string> {
  const tables = new Map<string, string>();
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method.toUpperCase()} ${path}`;
      const body = operation.requestBody?.content["application/json"].schema;
      if (body) tables.set(`${name} request`, table(body));
      const answer = operation.responses["200"]?.content?.["application/json"]?.schema;
      if (answer?.properties) tables.set(`${name} response`, table(answer));
    }
  }
  return tables;
}

/** `doc` with every marked table replaced by the generated one; throws for an unknown marker. */
export function renderApiDoc(doc: string, tables: Map<string, string>): string {
  return doc.replace(
    /<!-- fields: (.+?) -->\n[\s\S]*?<!-- \/fields -->/g,
    (_match, key: string) => {
      const generated = tables.get(key);
      if (generated === undefined) throw new Error(`docs/API.md marks a table "${key}" that no endpoint has`);
      return `<!-- fields: ${key} -->\n${generated}\n<!-- /fields -->`;
    },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const current = readFileSync(API_DOC, "utf8");
  const generated = renderApiDoc(current, fieldTables(await openApiDocument()));
  if (process.argv.includes("--check")) {
    if (generated !== current) {
      console.error("docs/API.md's field tables differ from the schemas: run npm run docs:api");
      process.exit(1);
    }
  } else {
    writeFileSync(API_DOC, generated);
    console.log("docs/API.md: field tables written from the endpoint schemas");
  }
}
