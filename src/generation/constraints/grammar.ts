import { createHash } from "node:crypto";
import type { OutputConstraint } from "../sequence-spec.js";
import type { GrammarHandle, Xgrammar } from "./xgrammar.js";

/**
 * An output constraint as an xgrammar grammar, before any tokenizer is involved: the one place
 * that knows how each kind of constraint is written for xgrammar. The main thread builds it to
 * refuse bad input (cheap: no vocabulary), the worker builds it again to compile.
 */

/** The largest grammar, as xgrammar prints it, that a request may ask for (a compile-cost bound). */
export const MAX_GRAMMAR_CHARS = 200_000;

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
      return jsonSafe(xgrammar, xgrammar.fromJSONSchema(JSON.stringify(constraint.schema)));
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
 * xgrammar (0.1.27) writes a string with minLength/maxLength as characters from [^"\\\r\n],
 * which lets in the other control characters that JSON forbids unescaped (JSON.parse fails on
 * them); its unbounded strings exclude \0-\x1f as they should. We narrow the bounded ones to match.
 */
function jsonSafe(xgrammar: Xgrammar, grammar: GrammarHandle): GrammarHandle {
  const text = grammar.ToString();
  if (!text.includes(LAX_STRING_CHARACTER)) return grammar;
  grammar.delete();
  return xgrammar.fromEBNF(text.replaceAll(LAX_STRING_CHARACTER, JSON_STRING_CHARACTER));
}

const LAX_STRING_CHARACTER = String.raw`[^\"\\\r\n]`;
const JSON_STRING_CHARACTER = String.raw`[^\0-\x1f\"\\\r\n]`;

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
