import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { build } from "vite";

/**
 * The playground's end-to-end tests drive Debian's chromium (installed by .ci/run), never a
 * downloaded one, with a fresh profile and nothing that phones home, so the page is tested
 * exactly as a user's browser would load it from the server.
 */

export const CHROMIUM = process.env.TRINE_CHROMIUM ?? "/usr/bin/chromium";

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Builds ui/ into dist/ui, so the page under test is the one the sources make now. */
export async function buildPlayground(): Promise<void> {
  await build({
    configFile: join(import.meta.dirname, "..", "..", "ui", "vite.config.ts"),
    logLevel: "error",
  });
}

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  const profile = mkdtempSync(join(tmpdir(), "trine-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
