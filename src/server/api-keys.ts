import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { authenticationError } from "./errors.js";
import { isPlaygroundPath } from "./playground.js";

/** Paths that answer without a key: probes, the scraper, the API documentation and the playground's page. */
function isOpenPath(url: string): boolean {
  const path = url.split("?", 1)[0];
  return (
    path === "/health" ||
    path === "/ready" ||
    path === "/metrics" ||
    path === "/docs" ||
    path.startsWith("/docs/") ||
    isPlaygroundPath(path)
  );
}

const digest = (key: string) => createHash("sha256").update(key).digest();

/**
 * An onRequest hook that demands `Authorization: Bearer <key>` with one of `keys` (none: every
 * request passes). Keys are compared as SHA-256 digests with timingSafeEqual, against every
 * configured key, so the time taken says nothing about how much of a key was right, nor which.
 */
export function apiKeyCheck(keys: readonly string[]) {
  const digests = keys.map(digest);
  return async (request: FastifyRequest): Promise<void> => {
    if (digests.length === 0 || request.method === "OPTIONS" || isOpenPath(request.url)) return;
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw authenticationError("Missing API key: send it as 'Authorization: Bearer <key>'.");
    const given = digest(match[1]);
    let found = false;
    for (const expected of digests) found = timingSafeEqual(given, expected) || found;
    if (!found) throw authenticationError("Incorrect API key provided.");
  };
}
