import { createHash } from "node:crypto";
import type { OutputConstraint } from "../sequence-spec.js";
import { boundedNumberEbnf } from "./number-range.js";
import type { GrammarHandle, Xgrammar } from "./xgrammar.js";

/**
 * An output constraint as an xgrammar grammar, before any tokenizer is involved: the one place
 * that knows how each kind of constraint is written for xgrammar. The main thread builds it to
 * refuse bad input (cheap: no vocabulary), the worker builds it again to compile.
 */

/** The largest grammar, as xgrammar prints it, that a request may ask for (a compile-cost bound). */
export const MAX_GRAMMAR_CHARS = 200_000;

/**
 * The longest a constraint may take to compile for the model's vocabulary (checked on a thread of
 * its own before any batch worker compiles it; src/scheduler/grammar-check.ts). A 40-property
 * schema takes under a second with a 32000-token vocabulary.
 */
export const MAX_GRAMMAR_COMPILE_SECONDS = 10;

/** Bad input, with xgrammar's description of it. */
export class ConstraintError extends Error {
  override readonly name = "ConstraintError";
}

/** The grammar of `constraint`; throws ConstraintError (xgrammar's message) when it has none. */
export function constraintGrammar(xgrammar: Xgrammar, constraint: OutputConstraint): GrammarHandle {
  let grammar: GrammarHandle;
  try {
    grammar = xgrammar.capture(() => build(xgrammar, constraint));
  } catch (error) {
    throw new ConstraintError((error as Error).message, { cause: error });
  }
  const size = grammar.ToString().length;
  if (size > MAX_GRAMMAR_CHARS) {
    grammar.delete();
    throw new ConstraintError(
      `its grammar has ${size} characters, more than this server's limit of ${MAX_GRAMMAR_CHARS}`,
    );
  }
  return grammar;
}

function build(xgrammar: Xgrammar, constraint: OutputConstraint): GrammarHandle {
  switch (constraint.type) {
    case "json_schema":
      return jsonSchemaGrammar(xgrammar, constraint.schema);
    case "json_object":
      return xgrammar.fromJSONSchema(JSON_OBJECT_SCHEMA);
    case "regex":
      return xgrammar.fromStructuralTag(
        JSON.stringify({ type: "structural_tag", format: { type: "regex", pattern: constraint.pattern } }),
      );
    case "choice":
      if (constraint.choices.length === 0) throw new Error("needs at least one choice");
      return xgrammar.fromEBNF(`root ::= ${constraint.choices.map(ebnfString).join(" | ")}`);
    case "grammar":
      return xgrammar.fromEBNF(constraint.ebnf);
    case "structural_tag":
      return xgrammar.fromStructuralTag(JSON.stringify(constraint.structuralTag));
  }
}

/**
 * xgrammar's grammar of a JSON schema, with what xgrammar 0.1.27 gets wrong put right:
 * - bounded numbers and integers (its ranges let in values outside them): each becomes a
 *   placeholder const before conversion and our exact expression (number-range.ts) after;
 * - characters a string may hold: bounded-length strings and regex classes (`.`, `[^a]`) let in
 *   control characters, quotes and backslashes, which JSON forbids unescaped; every negated
 *   class outside the grammar's literals is narrowed to exclude them;
 * - a pattern together with minLength/maxLength/format: it silently ignores the lengths, so it is
 *   refused.
 */
function jsonSchemaGrammar(xgrammar: Xgrammar, schema: unknown): GrammarHandle {
  const ranges: string[] = [];
  const rewritten = rewriteNumbers(schema, ranges);
  const converted = xgrammar.fromJSONSchema(JSON.stringify(rewritten));
  let text = converted.ToString();
  converted.delete();
  ranges.forEach((expression, k) => {
    const literal = JSON.stringify(JSON.stringify(placeholder(k)));
    if (!text.includes(literal)) throw new Error(`xgrammar wrote a bounded number in an unexpected way`);
    text = text.replaceAll(literal, expression);
  });
  return xgrammar.fromEBNF(narrowNegatedClasses(text));
}

const placeholder = (k: number) => `trine-bounded-number-${k}`;
const BOUND_KEYWORDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;
/** Keywords whose values are schemas, or maps or lists of schemas. */
const SUBSCHEMA_KEYWORDS = new Set([
  "additionalProperties",
  "items",
  "not",
  "contains",
  "if",
  "then",
  "else",
]);
const SUBSCHEMA_MAP_KEYWORDS = new Set(["properties", "patternProperties", "$defs", "definitions"]);
const SUBSCHEMA_LIST_KEYWORDS = new Set(["anyOf", "oneOf", "allOf", "prefixItems", "items"]);

function rewriteNumbers(schema: unknown, ranges: string[]): unknown {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return schema;
  const node: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (SUBSCHEMA_LIST_KEYWORDS.has(key) && Array.isArray(value))
      node[key] = value.map((item) => rewriteNumbers(item, ranges));
    else if (SUBSCHEMA_MAP_KEYWORDS.has(key) && value !== null && typeof value === "object")
      node[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, item]) => [
          name,
          rewriteNumbers(item, ranges),
        ]),
      );
    else if (SUBSCHEMA_KEYWORDS.has(key)) node[key] = rewriteNumbers(value, ranges);
    else node[key] = value;
  }
  const types =
    typeof node.type === "string" ? [node.type] : Array.isArray(node.type) ? (node.type as unknown[]) : [];
  if (
    types.includes("string") &&
    node.pattern !== undefined &&
    (node.minLength !== undefined || node.maxLength !== undefined || node.format !== undefined)
  )
    throw new Error("a string's pattern cannot be combined with minLength, maxLength or format");
  const numeric = types.filter((type) => type === "integer" || type === "number");
  const bounded = BOUND_KEYWORDS.some((key) => typeof node[key] === "number");
  if (numeric.length === 0 || !bounded || node.enum !== undefined || node.const !== undefined) return node;

  const bounds = Object.fromEntries(
    BOUND_KEYWORDS.map((key) => [key, node[key]]).filter(([, v]) => typeof v === "number"),
  );
  const expression = boundedNumberEbnf(bounds, !numeric.includes("number"));
  if (expression === null) throw new Error(`no ${numeric.join(" or ")} satisfies ${JSON.stringify(bounds)}`);
  const number = { const: placeholder(ranges.push(expression) - 1) };
  const others = types.filter((type) => type !== "integer" && type !== "number");
  if (others.length === 0) return number;
  const rest = Object.fromEntries(
    Object.entries(node).filter(
      ([key]) => key !== "type" && !(BOUND_KEYWORDS as readonly string[]).includes(key),
    ),
  );
  return { anyOf: [number, { ...rest, type: others }] };
}

/** What JSON lets no string hold unescaped, as EBNF class ranges. */
const JSON_FORBIDDEN = String.raw`\0-\x1f\"\\`;

/** Every negated class (and the any-character class) outside literals excludes JSON_FORBIDDEN. */
function narrowNegatedClasses(ebnf: string): string {
  let out = "";
  let i = 0;
  while (i < ebnf.length) {
    const c = ebnf[i];
    if (c === '"') {
      // A literal: copy through to its closing quote, escapes included.
      let j = i + 1;
      while (j < ebnf.length && ebnf[j] !== '"') j += ebnf[j] === "\\" ? 2 : 1;
      out += ebnf.slice(i, j + 1);
      i = j + 1;
    } else if (c === "[") {
      let j = i + 1;
      while (j < ebnf.length && ebnf[j] !== "]") j += ebnf[j] === "\\" ? 2 : 1;
      const body = ebnf.slice(i + 1, j);
      if (body === String.raw`\0-\U0010ffff`) out += `[^${JSON_FORBIDDEN}]`;
      else if (
        body.startsWith("^") &&
        !body.startsWith(`^${JSON_FORBIDDEN}`) &&
        !body.startsWith(String.raw`^\0-\x1f`)
      )
        out += `[^${JSON_FORBIDDEN}${body.slice(1)}]`;
      else out += `[${body}]`;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Any JSON object (response_format json_object); strict mode would otherwise allow only {}. */
const JSON_OBJECT_SCHEMA = JSON.stringify({ type: "object", additionalProperties: true });

/** `text` as an EBNF string literal: JSON's escapes are the C-style ones xgrammar reads. */
function ebnfString(text: string): string {
  return JSON.stringify(text);
}

/** A stable key of a constraint: the same constraint, its objects' keys in any order, same key. */
export function constraintKey(constraint: OutputConstraint): string {
  return createHash("sha256").update(canonicalJson(constraint)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
