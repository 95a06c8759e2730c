import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { ServerConfig } from "../../config.js";

/**
 * Who a stored record belongs to: the SHA-256 of the request's API key, so that no key is ever
 * stored, and one key never reads what another stored. Without configured keys everything
 * belongs to everyone (null).
 */
export function ownerOf(request: FastifyRequest, config: ServerConfig): string | null {
  if (config.apiKeys.length === 0) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
  return match ? createHash("sha256").update(match[1]).digest("hex") : null;
}
