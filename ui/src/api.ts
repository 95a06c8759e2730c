/**
 * The page's one way to the server: every call carries the API key (kept in this tab's session
 * storage only), and every failure becomes an ApiError whose message a user can act on.
 */

const KEY_STORAGE = "trine.apiKey";

export type FailureKind = "http" | "stream" | "network";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly status?: number,
    readonly code?: string | null,
    /** From a 429's Retry-After header. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  /** What the conversation shows: the server's words, with what to do about them. */
  get advice(): string {
    if (this.kind === "network") return `Connection lost: ${this.message} Your text is back in the input.`;
    if (this.status === 429) {
      const wait = this.retryAfterSeconds === undefined ? "" : ` Try again in ${this.retryAfterSeconds} s.`;
      return `Server busy (429): ${this.message}${wait}`;
    }
    if (this.status === 401) return `Not authorised (401): ${this.message} Enter an API key above.`;
    if (this.code === "context_length_exceeded") return `Too long for the model: ${this.message}`;
    return this.status === undefined ? this.message : `Error ${this.status}: ${this.message}`;
  }
}

export function apiKey(): string {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function setApiKey(key: string): void {
  if (key === "") sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

function headers(json: boolean): Headers {
  const result = new Headers();
  if (json) result.set("content-type", "application/json");
  const key = apiKey();
  if (key !== "") result.set("authorization", `Bearer ${key}`);
  return result;
}

async function failure(response: Response): Promise<ApiError> {
  let message = response.statusText || "request failed";
  let code: string | null = null;
  try {
    const body = (await response.json()) as { error?: { message?: string; code?: string | null } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code ?? null;
  } catch {}
  const retry = Number(response.headers.get("retry-after"));
  return new ApiError(
    message,
    "http",
    response.status,
    code,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}

async function send(path: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new ApiError((error as Error).message, "network");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await send(path, { headers: headers(false) })).json()) as T;
}

export async function getText(path: string): Promise<string> {
  return (await send(path, { headers: headers(false) })).text();
}

/**
 * POSTs `body` and hands each server-sent event's JSON, with its `event:` name where it has one,
 * to `onEvent` until the stream's end: `data: [DONE]`, or, for a stream that ends without it (the
 * Responses API's), the first of `lastEvents`. An error event (`data: {"error": ...}`, or a named
 * `error` event) throws its message; a stream cut before its end throws a network ApiError;
 * `signal` aborting throws the AbortError.
 */
export async function streamEvents(
  path: string,
  body: unknown,
  signal: AbortSignal,
  onEvent: (event: Record<string, unknown>, name?: string) => void,
  lastEvents: readonly string[] = [],
): Promise<void> {
  const response = await send(path, {
    method: "POST",
    headers: headers(true),
    body: JSON.stringify(body),
    signal,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk: ReadableStreamReadResult<string>;
    try {
      chunk = await reader.read();
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ApiError(`the stream broke off (${(error as Error).message}).`, "network");
    }
    if (chunk.done) throw new ApiError("the server closed the stream before it finished.", "network");
    buffer += chunk.value;
    const events = buffer.split(/\r?\n\r?\n/);
    buffer = events.pop()!;
    for (const event of events) {
      const lines = event.split(/\r?\n/);
      const name = lines
        .find((line) => line.startsWith("event:"))
        ?.slice(6)
        .trim();
      const data = lines
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data === "") continue; // a keep-alive comment
      if (data === "[DONE]") return;
      const parsed = JSON.parse(data) as Record<string, unknown> & {
        error?: { message: string; code?: string };
      };
      // The Responses API names its error event and puts the error's fields at the top.
      const error = name === "error" ? (parsed as { message: string; code?: string }) : parsed.error;
      if (error) throw new ApiError(error.message, "stream", undefined, error.code ?? null);
      onEvent(parsed, name);
      if (name !== undefined && lastEvents.includes(name)) {
        void reader.cancel().catch(() => {});
        return;
      }
    }
  }
}
