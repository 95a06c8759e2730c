import type { FastifyRequest } from "fastify";
import { invalidRequest } from "./errors.js";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The application/json body parser. Fastify's own decodes the body leniently, turning invalid
 * UTF-8 into U+FFFD, which would silently change a prompt; this one refuses it.
 */
export function parseJsonBody(
  request: FastifyRequest,
  body: Buffer,
  done: (error: Error | null, value?: unknown) => void,
): void {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    done(invalidRequest("The request body is not valid UTF-8.", null, "invalid_encoding"));
    return;
  }
  // The Python client sends DELETE /v1/responses/{id} with Content-Type: application/json and no
  // body: for a method that takes none, an empty body is no body.
  if (text.trim() === "" && (request.method === "DELETE" || request.method === "GET")) {
    done(null, undefined);
    return;
  }
  if (text.trim() === "") {
    done(invalidRequest("The request body is empty; send a JSON object.", null, "invalid_json"));
    return;
  }
  try {
    done(null, JSON.parse(text));
  } catch (error) {
    done(
      invalidRequest(`The request body is not valid JSON: ${(error as Error).message}`, null, "invalid_json"),
    );
  }
}
