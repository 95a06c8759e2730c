import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { describeEnvironment, environment } from "./environment.js";
import { ServerProcess } from "./server.js";
import { runSoak } from "./soak.js";
import { soakChart } from "./soak-chart.js";
import { Workload } from "./workload.js";

/**
 * `npm run loadtest:soak`: ten minutes of steady mixed traffic (loadtest/soak.ts) against a server
 * with its default settings; prints the figures (--json for all of them) and, with --plot, writes
 * memory and event-loop delay over time as an SVG chart.
 */

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    "warmup-seconds": { type: "string", default: "60" },
    clients: { type: "string", default: "8" },
    json: { type: "string" },
    plot: { type: "string" },
  },
});

const env = environment();
const server = await ServerProcess.start({ flags: { "--grace-period": 5 } });
try {
  const workload = await Workload.of(server.url);
  console.log(
    `soak: ${args.minutes} min, ${args.clients} streaming clients and three others, against ${server.url}`,
  );
  const result = await runSoak(server, workload, {
    durationMs: Number(args.minutes) * 60_000,
    warmupMs: Number(args["warmup-seconds"]) * 1000,
    streamingClients: Number(args.clients),
    heapWindowMs: 30_000,
  });
  env.loadAfter = (await import("node:os")).loadavg()[0];
  const { samples, ...figures } = result;
  console.log(JSON.stringify({ environment: describeEnvironment(env), ...figures }, null, 1));
  if (args.json) writeFileSync(args.json, JSON.stringify({ env, ...result }, null, 1));
  if (args.plot) writeFileSync(args.plot, await soakChart(samples, env));
  const failed =
    result.unexpected.length > 0 ||
    result.slotsUsedAfter !== 0 ||
    result.endedByMetrics !== result.endedByClients;
  process.exitCode = failed ? 1 : 0;
} finally {
  await server.stop();
}
