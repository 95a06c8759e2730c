import { defineConfig } from "vitest/config";

/**
 * Two groups, one after the other. The reliability tests (test/reliability) load a server process
 * and measure it (event-loop delay, memory slope, latencies, timeouts), so they run alone and one
 * file at a time, after everything else: on CI's two cores, other test files running beside them
 * would make their figures about the machine rather than the server.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/reliability/**"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
