import { QueueFullError, QueueTimeoutError } from "../workers/admission.js";
import { WorkerCrashError } from "../workers/pool.js";

/**
 * The one catalogue of what the server answers when something goes wrong: every error class,
 * ours and those of the layers below, maps here to an HTTP status and OpenAI's error object
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

export class ApiError extends Error {
  override readonly name: string = "ApiError";
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    /** null when the request did not fail on the server's side (the client left). */
    readonly failureReason: FailureReason | null,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400: the request cannot be served as written. */
export class InvalidRequestError extends ApiError {
  override readonly name = "InvalidRequestError";
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(400, "invalid_request_error", message, "invalid_request", param, code);
  }
}

/** 400 with OpenAI's code for a prompt over the configured limit. */
export function contextLengthExceeded(
  param: string,
  promptTokens: number,
  limit: number,
): InvalidRequestError {
  return new InvalidRequestError(
    `The prompt has ${promptTokens} tokens; this server accepts at most ${limit} prompt tokens.`,
    param,
    "context_length_exceeded",
  );
}

/**
 * 400 with the same code for a prompt refused before it was tokenized, because its text is too
 * long to fit in `limit` tokens however it tokenizes.
 */
export function promptTooLong(param: string, limit: number): InvalidRequestError {
  return new InvalidRequestError(
    `The prompt is longer than ${limit} tokens; this server accepts at most ${limit} prompt tokens.`,
    param,
    "context_length_exceeded",
  );
}

/** 400 for a known OpenAI parameter whose requested behaviour Trine does not implement. */
export function unsupportedParameter(param: string, why: string): InvalidRequestError {
  return new InvalidRequestError(`${param} is not supported: ${why}`, param, "unsupported_parameter");
}

export class AuthenticationError extends ApiError {
  override readonly name = "AuthenticationError";
  constructor(message: string) {
    super(401, "invalid_request_error", message, "unauthorized", null, "invalid_api_key", {
      "www-authenticate": "Bearer",
    });
  }
}

export class NotFoundError extends ApiError {
  override readonly name = "NotFoundError";
  constructor(message: string, param: string | null = null, code = "not_found") {
    super(404, "invalid_request_error", message, "invalid_request", param, code);
  }
}

export function modelNotFound(model: string): NotFoundError {
  return new NotFoundError(`The model '${model}' does not exist.`, "model", "model_not_found");
}

/** 503: loading, draining for shutdown, or out of workers. */
export class ServiceUnavailableError extends ApiError {
  override readonly name = "ServiceUnavailableError";
  constructor(message: string, code: "loading" | "draining" | "saturated") {
    super(503, "service_unavailable_error", message, "unavailable", null, code);
  }
}

/** The client closed the connection before the answer (nginx's 499); nobody reads this body. */
export class ClientGoneError extends ApiError {
  override readonly name = "ClientGoneError";
  constructor() {
    super(
      499,
      "invalid_request_error",
      "The client closed the request.",
      null,
      null,
      "client_closed_request",
    );
  }
}

/** The generic 500 body: what went wrong is in the log, under the request id. */
export function internalError(requestId: string): ApiError {
  return new ApiError(
    500,
    "server_error",
    `The server had an error while processing your request (request id ${requestId}).`,
    "internal",
    null,
    "internal_error",
  );
}

/**
 * What Node's HTTP parser refused before there was a request to route: a request not received
 * within the server's limit (408), headers over Node's size limit (431), or bytes that are not
 * HTTP (400).
 */
export function connectionError(code: string | undefined): ApiError {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ApiError(
        408,
        "invalid_request_error",
        "The request was not received in time.",
        "invalid_request",
        null,
        "request_timeout",
      );
    case "HPE_HEADER_OVERFLOW":
      return new ApiError(
        431,
        "invalid_request_error",
        "The request headers are too large.",
        "invalid_request",
        null,
        "request_header_fields_too_large",
      );
    default:
      return new ApiError(
        400,
        "invalid_request_error",
        "The request is not valid HTTP.",
        "invalid_request",
        null,
        "invalid_http",
      );
  }
}

/** 429: no sequence slot for now; Retry-After says when to try again. */
function serverBusy(why: string, reason: "queue_full" | "queue_timeout"): ApiError {
  return new ApiError(429, "rate_limit_error", `Server busy: ${why}.`, reason, null, reason, {
    "retry-after": String(RETRY_AFTER_SECONDS),
  });
}

/** Fastify's own errors carry a status code and, for schema failures, ajv's error list. */
interface FrameworkError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[];
}

/** Maps any error to the ApiError to answer with; undefined means a bug (answer internalError). */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof QueueFullError) return serverBusy(error.message, "queue_full");
  if (error instanceof QueueTimeoutError) return serverBusy(error.message, "queue_timeout");
  if (error instanceof WorkerCrashError) {
    return new ApiError(500, "server_error", error.message, "worker_crash", null, "worker_crashed");
  }
  const framework = error as FrameworkError;
  if (framework?.validation?.length) return fromValidation(framework.validation[0]);
  switch (framework?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError(
        413,
        "invalid_request_error",
        "The request body is too large.",
        "invalid_request",
        null,
        "request_too_large",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError(
        415,
        "invalid_request_error",
        "Unsupported Content-Type: send application/json.",
        "invalid_request",
        null,
        "unsupported_media_type",
      );
  }
  // Fastify's other client errors (empty body, bad Content-Length) say what is wrong.
  if (
    typeof framework?.statusCode === "number" &&
    framework.statusCode >= 400 &&
    framework.statusCode < 500
  ) {
    return new ApiError(framework.statusCode, "invalid_request_error", framework.message, "invalid_request");
  }
  return undefined;
}

/** A schema failure, with `param` the field's path as the request spells it. */
function fromValidation(failure: NonNullable<FrameworkError["validation"]>[number]): InvalidRequestError {
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
      return new InvalidRequestError(
        `Unrecognized request argument supplied: ${name}`,
        name,
        "unknown_parameter",
      );
    }
    case "required": {
      const name = param(failure.params.missingProperty);
      return new InvalidRequestError(
        `Missing required parameter: '${name}'.`,
        name,
        "missing_required_parameter",
      );
    }
    case "type": {
      const name = param();
      const types = String(failure.params.type).split(",").join(" or ");
      return new InvalidRequestError(
        `Invalid type for '${name || "body"}': expected ${types}.`,
        name || null,
        "invalid_type",
      );
    }
    default: {
      const name = param();
      return new InvalidRequestError(
        `Invalid value for '${name || "body"}': ${failure.message}.`,
        name || null,
        "invalid_value",
      );
    }
  }
}
