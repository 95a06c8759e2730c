// The image's HEALTHCHECK: exit 0 when the server answers GET /health, 1 otherwise. Slim images
// have no curl, so it is node's fetch. A server bound to every address is asked on loopback.
const configuredHost = process.env.TRINE_HOST ?? "0.0.0.0";
const host = ["0.0.0.0", "::", ""].includes(configuredHost) ? "127.0.0.1" : configuredHost;
const port = process.env.TRINE_PORT || "8000";
const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/health`;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
