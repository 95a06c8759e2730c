import createError, { type FastifyError } from "@fastify/error";
import { SequenceSpecError } from "../generation/sequence-spec.js";
import { QueueFullError, QueueTimeoutError } from "../scheduler/admission.js";
import { UnavailableError } from "../scheduler/unavailable-error.js";
import { WorkerCrashError } from "../scheduler/worker-pool.js";
import { StoreUnavailableError } from "../store/state-store.js";

/**
 * The one catalogue of what the server answers when something goes wrong. Each kind of failure
 * is created once (@fastify/error: a code and an HTTP status) with OpenAI's error type and the
 * failure-metric reason beside it; every error, ours and those of the layers below, maps here
 * (toApiError) to one of them and is answered as OpenAI's error object
 * {"error": {"message", "type", "param", "code"}}. A 500 never carries the underlying message or
 * stack: those go to the log.
 */

export interface OpenAIErrorObject {
  message: string;
  type: string;
  /** The request field at fault, spelled as in the request ("messages[0].content"). */
  param: string | null;
  code: string | null;
}

export interface OpenAIErrorBody {
  error: OpenAIErrorObject;
}

/** The `reason` label of trine_request_failures_total (docs/METRICS.md says when each applies). */
export const FAILURE_REASONS = [
  "invalid_request",
  "unauthorized",
  "queue_full",
  "queue_timeout",
  "unavailable",
  "worker_crash",
  "deadline",
  "internal",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Seconds a client is told to wait after a 429: slots free up as fast as sequences finish. */
export const RETRY_AFTER_SECONDS = 1;

/** An error the server answers as it is: its status, OpenAI's fields, and what the metrics count. */
export interface ApiError extends FastifyError {
  readonly statusCode: number;
  /** OpenAI's error type. */
  readonly type: string;
  readonly param: string | null;
  /** OpenAI's error code. */
  readonly openaiCode: string | null;
  /** null when the request did not fail on the server's side (the client left). */
  readonly failureReason: FailureReason | null;
  readonly headers: Readonly<Record<string, string>>;
}

interface Details {
  readonly param?: string | null;
  readonly code?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** For kinds whose reason depends on the case (429: queue full or timed out). */
  readonly failureReason?: FailureReason;
}

/** One kind of failure: created once, then made with a message and its details. */
function kind(
  code: string,
  statusCode: number,
  type: string,
  failureReason: FailureReason | null,
): (message: string, details?: Details) => ApiError {
  const FastifyKind = createError(code, "%s", statusCode);
  return (message, details = {}) =>
    Object.assign(new FastifyKind(message), {
      statusCode,
      type,
      param: details.param ?? null,
      openaiCode: details.code ?? null,
      failureReason: details.failureReason ?? failureReason,
      headers: details.headers ?? {},
    });
}

const invalid = kind("TRINE_INVALID_REQUEST", 400, "invalid_request_error", "invalid_request");
const unauthorized = kind("TRINE_UNAUTHORIZED", 401, "invalid_request_error", "unauthorized");
const notFoundError = kind("TRINE_NOT_FOUND", 404, "invalid_request_error", "invalid_request");
const requestTimeout = kind("TRINE_REQUEST_TIMEOUT", 408, "invalid_request_error", "invalid_request");
const tooLarge = kind("TRINE_BODY_TOO_LARGE", 413, "invalid_request_error", "invalid_request");
const mediaType = kind("TRINE_UNSUPPORTED_MEDIA_TYPE", 415, "invalid_request_error", "invalid_request");
const headersTooLarge = kind("TRINE_HEADERS_TOO_LARGE", 431, "invalid_request_error", "invalid_request");
const busy = kind("TRINE_BUSY", 429, "rate_limit_error", "queue_full");
const clientClosed = kind("TRINE_CLIENT_GONE", 499, "invalid_request_error", null);
const workerCrash = kind("TRINE_WORKER_CRASH", 500, "server_error", "worker_crash");
const internal = kind("TRINE_INTERNAL", 500, "server_error", "internal");
const unavailableError = kind("TRINE_UNAVAILABLE", 503, "service_unavailable_error", "unavailable");

/** 400: the request cannot be served as written. */
export function invalidRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): ApiError {
  return invalid(message, { param, code });
}

/** 400 with OpenAI's code for a prompt over the configured limit. */
export function contextLengthExceeded(param: string, promptTokens: number, limit: number): ApiError {
  return invalidRequest(
    `The prompt has ${promptTokens} tokens; this server accepts at most ${limit} prompt tokens.`,
    param,
    "context_length_exceeded",
  );
}

/**
 * 400 with the same code for a prompt refused before it was tokenized, because its text is too
 * long to fit in `limit` tokens however it tokenizes.
 */
export function promptTooLong(param: string, limit: number): ApiError {
  return invalidRequest(
    `The prompt is longer than ${limit} tokens; this server accepts at most ${limit} prompt tokens.`,
    param,
    "context_length_exceeded",
  );
}

/** 400 for a known OpenAI parameter whose requested behaviour Trine does not implement. */
export function unsupportedParameter(param: string, why: string): ApiError {
  return invalidRequest(`${param} is not supported: ${why}`, param, "unsupported_parameter");
}

export function authenticationError(message: string): ApiError {
  return unauthorized(message, { code: "invalid_api_key", headers: { "www-authenticate": "Bearer" } });
}

export function notFound(message: string, param: string | null = null, code = "not_found"): ApiError {
  return notFoundError(message, { param, code });
}

export function modelNotFound(model: string): ApiError {
  return notFound(`The model '${model}' does not exist.`, "model", "model_not_found");
}

/** 503: loading, draining for shutdown, or out of slots. */
export function serviceUnavailable(message: string, code: "loading" | "draining" | "saturated"): ApiError {
  return unavailableError(message, { code });
}

/** Seconds a client is told to wait when the state store is unreachable: the client reconnects within one. */
export const STORE_RETRY_AFTER_SECONDS = 1;

/**
 * 503 for a request that needs the state store (a stored response, previous_response_id,
 * store: true) while it cannot be reached; requests that do not need it are unaffected.
 */
export function storeUnavailable(why: string): ApiError {
  return unavailableError(`The state store is unavailable: ${why}. Retry shortly.`, {
    code: "store_unavailable",
    headers: { "retry-after": String(STORE_RETRY_AFTER_SECONDS) },
  });
}

/** The client closed the connection before the answer (nginx's 499); nobody reads this body. */
export function clientGone(): ApiError {
  return clientClosed("The client closed the request.", { code: "client_closed_request" });
}

/** The generic 500 body: what went wrong is in the log, under the request id. */
export function internalError(requestId: string): ApiError {
  return internal(`The server had an error while processing your request (request id ${requestId}).`, {
    code: "internal_error",
  });
}

export function errorBody(error: ApiError): OpenAIErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.openaiCode } };
}

/**
 * What Node's HTTP parser refused before there was a request to route: a request not received
 * within the server's limit (408), headers over Node's size limit (431), or bytes that are not
 * HTTP (400).
 */
export function connectionError(code: string | undefined): ApiError {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return requestTimeout("The request was not received in time.", { code: "request_timeout" });
    case "HPE_HEADER_OVERFLOW":
      return headersTooLarge("The request headers are too large.", {
        code: "request_header_fields_too_large",
      });
    default:
      return invalid("The request is not valid HTTP.", { code: "invalid_http" });
  }
}

/** 429: no sequence slot for now; Retry-After says when to try again. */
function serverBusy(why: string, reason: "queue_full" | "queue_timeout"): ApiError {
  return busy(`Server busy: ${why}.`, {
    code: reason,
    failureReason: reason,
    headers: { "retry-after": String(RETRY_AFTER_SECONDS) },
  });
}

/** Fastify's own errors carry a status code and, for schema failures, ajv's error list. */
interface FrameworkError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[];
}

function isApiError(error: unknown): error is ApiError {
  return error instanceof Error && "openaiCode" in error && "failureReason" in error;
}

/** Maps any error to the ApiError to answer with; undefined means a bug (answer internalError). */
export function toApiError(error: unknown): ApiError | undefined {
  if (isApiError(error)) return error;
  if (error instanceof SequenceSpecError) return invalidRequest(error.message, error.param, "invalid_value");
  if (error instanceof QueueFullError) return serverBusy(error.message, "queue_full");
  if (error instanceof QueueTimeoutError) return serverBusy(error.message, "queue_timeout");
  if (error instanceof UnavailableError) return serviceUnavailable(error.message, error.reason);
  if (error instanceof StoreUnavailableError) return storeUnavailable(error.message);
  if (error instanceof WorkerCrashError) return workerCrash(error.message, { code: "worker_crashed" });
  const framework = error as FrameworkError;
  if (framework?.validation?.length) return fromValidation(framework.validation[0]);
  switch (framework?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return tooLarge("The request body is too large.", { code: "request_too_large" });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return mediaType("Unsupported Content-Type: send application/json.", {
        code: "unsupported_media_type",
      });
  }
  // Fastify's other client errors (empty body, bad Content-Length) say what is wrong.
  if (
    typeof framework?.statusCode === "number" &&
    framework.statusCode >= 400 &&
    framework.statusCode < 500
  ) {
    return Object.assign(invalid(framework.message), { statusCode: framework.statusCode });
  }
  return undefined;
}

/** A schema failure, with `param` the field's path as the request spells it. */
function fromValidation(failure: NonNullable<FrameworkError["validation"]>[number]): ApiError {
  const path = failure.instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
  const param = (extra?: unknown) => {
    const parts = typeof extra === "string" ? [...path, extra] : path;
    return parts.reduce(
      (name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part),
      "",
    );
  };
  switch (failure.keyword) {
    case "additionalProperties": {
      const name = param(failure.params.additionalProperty);
      return invalidRequest(`Unrecognized request argument supplied: ${name}`, name, "unknown_parameter");
    }
    case "required": {
      const name = param(failure.params.missingProperty);
      return invalidRequest(`Missing required parameter: '${name}'.`, name, "missing_required_parameter");
    }
    case "type": {
      const name = param();
      const types = String(failure.params.type).split(",").join(" or ");
      return invalidRequest(
        `Invalid type for '${name || "body"}': expected ${types}.`,
        name || null,
        "invalid_type",
      );
    }
    default: {
      const name = param();
      return invalidRequest(
        `Invalid value for '${name || "body"}': ${failure.message}.`,
        name || null,
        "invalid_value",
      );
    }
  }
}
