import { parseArgs } from "node:util";
import { describeEnvironment, environment } from "./environment.js";
import { FUZZ_SERVER_FLAGS, fuzz } from "./fuzz.js";
import { ServerProcess } from "./server.js";

/**
 * `npm run loadtest:fuzz`: 10,000 bad-input cases (loadtest/fuzz.ts) against a server process
 * (--runs, --seed to replay one); exits 1 with fast-check's smallest failing case if any answer is
 * a 500, a malformed error, a stack trace or a hang.
 */

const { values: args } = parseArgs({
  options: { runs: { type: "string", default: "10000" }, seed: { type: "string" } },
});
const env = environment();
const server = await ServerProcess.start({
  flags: { ...FUZZ_SERVER_FLAGS, "--grace-period": 1 },
  captureLogs: true,
});
const started = performance.now();
try {
  const report = await fuzz({
    baseUrl: server.url,
    model: "storyteller",
    runs: Number(args.runs),
    seed: args.seed === undefined ? undefined : Number(args.seed),
    onProgress: (done) =>
      console.log(`${done} cases, ${((performance.now() - started) / 1000).toFixed(0)} s`),
  });
  const unexpectedLogLines = server.logs.filter((line) => (line.level as number) >= 50);
  env.loadAfter = (await import("node:os")).loadavg()[0];
  console.log(
    JSON.stringify(
      {
        environment: describeEnvironment(env),
        ...report,
        seconds: (performance.now() - started) / 1000,
        serverAlive: server.exit === undefined,
        unexpectedLogLines: unexpectedLogLines.length,
      },
      null,
      1,
    ),
  );
  if (unexpectedLogLines.length > 0 || server.exit !== undefined) process.exitCode = 1;
} catch (error) {
  console.error(String((error as Error).message));
  process.exitCode = 1;
} finally {
  await server.stop();
}
