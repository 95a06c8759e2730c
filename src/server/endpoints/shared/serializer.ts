import fastJson from "fast-json-stringify";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";

/**
 * A response schema's serialiser: fast-json-stringify compiled from the schema, as Fastify does
 * for a route's responses, so a field the schema lacks is never written. With `check` (the test
 * servers) each value is first validated against the schema, and one that does not match (a
 * field the schema lacks, a wrong type) throws instead of being silently trimmed.
 */
export function responseSerializer(schema: TSchema, check: boolean): (value: unknown) => string {
  const stringify = fastJson(schema as object);
  if (!check) return stringify;
  const validator = Compile(schema);
  return (value) => {
    if (!validator.Check(value)) {
      const [first] = validator.Errors(value);
      throw new ResponseSchemaError(
        `response does not match its schema at '${first?.instancePath ?? ""}': ${first?.message ?? "invalid"}`,
      );
    }
    return stringify(value);
  };
}

/** A route built a response its schema does not describe: a bug, answered as a 500. */
export class ResponseSchemaError extends Error {
  override readonly name = "ResponseSchemaError";
}
