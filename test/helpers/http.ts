/** Requests to a server under test (anything with a `url`), answered as status, headers and body. */

interface Served {
  readonly url: string;
}

/** POSTs JSON (or raw bytes) and returns the status, headers and parsed body. */
export function post(server: Served, path: string, body: unknown, headers: Record<string, string> = {}) {
  return answer(
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
    }),
  );
}

export function get(server: Served, path: string, headers: Record<string, string> = {}) {
  return answer(fetch(`${server.url}${path}`, { headers }));
}

async function answer(pending: Promise<Response>) {
  const response = await pending;
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers loosely; their assertions check the shapes.
  return { status: response.status, headers: response.headers, json: json as any, text };
}
