import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { packageRoot } from "../model/default-model.js";
import { notFound } from "./errors.js";

/**
 * The web playground (ui/, built by `npm run build` into dist/ui): its page at / and its hashed
 * assets under /assets/, served from the package itself, so it works offline and in the
 * container. `--no-ui` / `TRINE_UI=false` leaves / a 404 like any unknown path.
 */

export const PLAYGROUND_DIR = join(packageRoot(), "dist", "ui");

/** The page and its assets answer without an API key: the page asks for the key, its API calls carry it. */
export function isPlaygroundPath(path: string): boolean {
  return path === "/" || path === "/index.html" || path.startsWith("/assets/");
}

/**
 * The page may load and call only its own origin: no inline script, nothing from elsewhere, so a
 * model's or a user's text that slipped into the markup could still not run.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export async function playground(app: FastifyInstance): Promise<void> {
  if (!app.trine.config.ui) return;
  if (!existsSync(join(PLAYGROUND_DIR, "index.html"))) {
    app.log.warn({ dir: PLAYGROUND_DIR }, "the playground is not built (npm run build); / answers 404");
    app.get("/", { schema: { hide: true } }, async () => {
      throw notFound("The playground is not built: run `npm run build`, or start with --no-ui.");
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: PLAYGROUND_DIR,
    prefix: "/",
    // Routes for the files present at start-up only: every other path stays the API's JSON 404.
    wildcard: false,
    index: "index.html",
    schemaHide: true,
    setHeaders(reply, path) {
      reply.header("x-content-type-options", "nosniff");
      if (path.endsWith(".html")) {
        reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
        reply.header("cache-control", "no-cache");
      } else {
        // Vite puts a content hash in every asset's name.
        reply.header("cache-control", "public, max-age=31536000, immutable");
      }
    },
  });
}
