import Type, { type Static } from "typebox";
import { ConstraintError, constraintGrammar } from "../../../generation/constraints/grammar.js";
import { loadXgrammar, type Xgrammar } from "../../../generation/constraints/xgrammar.js";
import type { OutputConstraint } from "../../../generation/sequence-spec.js";
import { type GrammarCheck, GrammarCheckError } from "../../../scheduler/grammar-check.js";
import type { GenerationRequest } from "../../../scheduler/request-run.js";
import { invalidRequest } from "../../errors.js";
import { Nullable } from "./schema.js";

/**
 * Structured outputs: the request fields that constrain what the model may write (OpenAI's
 * `response_format`, vLLM's `structured_outputs`), turned into the spec's OutputConstraint and
 * checked here, on the main thread, so that a schema, regex or grammar xgrammar cannot use is a
 * 400 naming the field before any worker sees it. The worker compiles the same constraint again
 * for the model's vocabulary (src/generation/constraints/).
 */

/** The grammar engine that `checked` builds grammars with, once a request has needed it. */
let xgrammar: Xgrammar | undefined;

/** The request fields that may constrain the output, in any endpoint's body. */
export interface ConstrainingFields extends StructuredOutputFields {
  readonly tools?: unknown;
  readonly text?: { readonly format?: unknown } | null;
}

/**
 * Starts the grammar engine on this thread when `body` has a field that may constrain its output
 * (a route awaits it before it builds the spec, whose `checked` needs the engine). It starts on
 * the first such request (~0.1 s) and stays: a server never asked for a constraint does not carry
 * its ~7 MB (issue 16's memory target; docs/PERFORMANCE.md, "Worker memory").
 */
export async function loadConstraintChecks(body: ConstrainingFields): Promise<void> {
  const constrains =
    body.response_format != null ||
    body.structured_outputs != null ||
    (Array.isArray(body.tools) && body.tools.length > 0) ||
    body.text?.format != null;
  if (constrains) xgrammar ??= await loadXgrammar();
}

export const JsonSchemaFormat = Type.Object(
  {
    name: Type.String({
      pattern: "^[a-zA-Z0-9_-]{1,64}$",
      description: "Letters, digits, _ and -, at most 64 (as OpenAI requires).",
    }),
    description: Type.Optional(Type.String({ description: "Not shown to the model." })),
    schema: Type.Optional(
      Type.Unsafe<Record<string, unknown> | boolean>({
        type: ["object", "boolean"],
        description:
          "A JSON Schema; any root type (OpenAI's strict mode needs an object). Absent: any JSON value.",
      }),
    ),
    strict: Type.Optional(
      Nullable(Type.Boolean(), "Accepted either way: the grammar enforces the schema exactly in both cases."),
    ),
  },
  { additionalProperties: false },
);

export const ResponseFormat = Type.Object(
  {
    type: Type.Unsafe<"text" | "json_object" | "json_schema">({
      type: "string",
      enum: ["text", "json_object", "json_schema"],
    }),
    json_schema: Type.Optional(JsonSchemaFormat),
  },
  {
    additionalProperties: false,
    description:
      "`text` (the default), `json_object` (any JSON object) or `json_schema` (output valid against `json_schema.schema`), enforced on every token by a grammar.",
  },
);
export type ResponseFormat = Static<typeof ResponseFormat>;

export const StructuredOutputs = Type.Object(
  {
    json: Type.Optional(
      Type.Unsafe<Record<string, unknown> | boolean | string>({
        type: ["object", "boolean", "string"],
        description: "A JSON Schema, or its JSON text.",
      }),
    ),
    regex: Type.Optional(Type.String({ description: "A regular expression the whole output matches." })),
    choice: Type.Optional(Type.Array(Type.String(), { description: "The output is exactly one of these." })),
    grammar: Type.Optional(
      Type.String({ description: "An EBNF grammar in xgrammar's syntax, rule `root`." }),
    ),
    json_object: Type.Optional(Type.Boolean({ description: "true: any JSON object." })),
  },
  {
    additionalProperties: false,
    description:
      "vLLM's structured outputs: exactly one of json, regex, choice, grammar, json_object. Not together with a response_format other than text.",
  },
);
export type StructuredOutputs = Static<typeof StructuredOutputs>;

/** The fields of a request that may constrain its output. */
export interface StructuredOutputFields {
  readonly response_format?: ResponseFormat | null;
  readonly structured_outputs?: StructuredOutputs | null;
}

/** The request's output constraint, checked; null when it asks for none. Throws a 400. */
export function requestedConstraint(body: StructuredOutputFields): OutputConstraint | null {
  const fromFormat = responseFormatConstraint(body.response_format);
  const fromStructured = structuredOutputsConstraint(body.structured_outputs);
  if (fromFormat && fromStructured)
    throw invalidRequest(
      "Use either response_format or structured_outputs to constrain the output, not both.",
      "structured_outputs",
      "invalid_value",
    );
  return fromFormat ?? fromStructured;
}

function responseFormatConstraint(format: ResponseFormat | null | undefined): OutputConstraint | null {
  if (format == null || format.type === "text") return null;
  if (format.type === "json_object") return checked({ type: "json_object" }, "response_format");
  if (format.json_schema === undefined)
    throw invalidRequest(
      "response_format of type json_schema needs a json_schema object ({name, schema}).",
      "response_format.json_schema",
      "missing_required_parameter",
    );
  return checked(
    { type: "json_schema", schema: format.json_schema.schema ?? {} },
    "response_format.json_schema.schema",
  );
}

function structuredOutputsConstraint(fields: StructuredOutputs | null | undefined): OutputConstraint | null {
  if (fields == null) return null;
  const given = (Object.keys(fields) as (keyof StructuredOutputs)[]).filter(
    (key) => fields[key] !== undefined && !(key === "json_object" && fields[key] === false),
  );
  if (given.length !== 1)
    throw invalidRequest(
      `structured_outputs needs exactly one of json, regex, choice, grammar, json_object; it has ${given.length === 0 ? "none" : given.join(", ")}.`,
      "structured_outputs",
      "invalid_value",
    );
  const param = `structured_outputs.${given[0]}`;
  if (fields.json !== undefined)
    return checked({ type: "json_schema", schema: parsedSchema(fields.json, param) }, param);
  if (fields.regex !== undefined) return checked({ type: "regex", pattern: fields.regex }, param);
  if (fields.choice !== undefined) return checked({ type: "choice", choices: fields.choice }, param);
  if (fields.grammar !== undefined) return checked({ type: "grammar", ebnf: fields.grammar }, param);
  return checked({ type: "json_object" }, param);
}

function parsedSchema(json: Record<string, unknown> | boolean | string, param: string): unknown {
  if (typeof json !== "string") return json;
  try {
    return JSON.parse(json);
  } catch (error) {
    throw invalidRequest(
      `Invalid value for '${param}': the JSON text does not parse (${(error as Error).message}).`,
      param,
      "invalid_value",
    );
  }
}

/** The field a request's output constraint came from, for a 400 about its compile. */
export function constraintParam(body: StructuredOutputFields): string {
  const format = body.response_format;
  if (format != null && format.type !== "text")
    return format.type === "json_schema" ? "response_format.json_schema.schema" : "response_format";
  const given = Object.keys(body.structured_outputs ?? {})[0];
  return given === undefined ? "structured_outputs" : `structured_outputs.${given}`;
}

/**
 * Waits until the request's output constraint (the same for all its sequences) is known to compile
 * within the server's limit; a 400 naming `param` when it does not.
 */
export async function checkCompiles(
  model: { readonly grammarCheck: GrammarCheck },
  generation: GenerationRequest,
  param: string,
): Promise<void> {
  const constraint = generation.sequences[0]?.constraint;
  if (!constraint) return;
  try {
    await model.grammarCheck.check(constraint);
  } catch (error) {
    if (error instanceof GrammarCheckError)
      throw invalidRequest(`Invalid value for '${param}': ${error.message}.`, param, "invalid_value");
    throw error;
  }
}

/** `constraint` if xgrammar can build its grammar; else a 400 naming `param` with xgrammar's reason. */
export function checked(constraint: OutputConstraint, param: string): OutputConstraint {
  try {
    if (!xgrammar) throw new Error("checked() before the route awaited loadConstraintChecks()");
    constraintGrammar(xgrammar, constraint).delete();
  } catch (error) {
    if (error instanceof ConstraintError)
      throw invalidRequest(`Invalid value for '${param}': ${error.message}.`, param, "invalid_value");
    throw error;
  }
  return constraint;
}
